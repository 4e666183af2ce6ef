/*
 * fuzz/ds_record_fuzzer.c: libFuzzer target for the stored records of
 * durable sessions (ds.c; the encodings are in docs/storage.md, "Durable
 * message", "Queue entry" and "Session").
 *
 * The input is one byte that picks the key, the rest of the key, then a
 * record value without its checksum.  The first byte modulo 3 picks:
 *
 *   0  "d/" and the next 10 bytes (shard 2, position 8): a durable message
 *   1  "q/", a byte N, N bytes of client id, a NUL, then the next 8 bytes
 *      (position): a queue entry
 *   2  "s/", a byte N, then N bytes of client id: a session
 *
 * An input too short for its key is skipped.  The target appends the
 * CRC-32 that the store would write (of the key, then of the value), so
 * that the fuzzer gets past it to the fields, the topics and the
 * properties, and asks ds_record_ok().  The same value with a wrong
 * checksum must be refused.  A crash, a sanitizer report or an accepted
 * bad checksum aborts.  Built with -fsanitize=fuzzer, or linked with
 * replay.c to replay a corpus from `make check`.  Single-threaded.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "ds.h"
#include "store.h"
#include "xmalloc.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* main.c owns the configuration; ds.c links the engine, which reads it
 * (the record check itself does not). */
struct config	*config;

/* Decide on one input; see the file header. */
int
LLVMFuzzerTestOneInput(const uint8_t *p, size_t n)
{
	uint8_t		*key, *val;
	size_t		 klen, vlen, used, idlen;
	uint32_t	 crc;

	if (n < 1)
		return (0);
	switch (p[0] % 3) {
	case 0:		/* "d/" shard(2) pos(8) */
		if (n < 1 + 10)
			return (0);
		klen = 2 + 10;
		key = xmalloc(klen);
		memcpy(key, "d/", 2);
		memcpy(key + 2, p + 1, 10);
		used = 1 + 10;
		break;
	case 1:		/* "q/" cid NUL pos(8) */
		if (n < 2 || (idlen = p[1]) + 2 + 8 > n)
			return (0);
		klen = 2 + idlen + 1 + 8;
		key = xmalloc(klen);
		memcpy(key, "q/", 2);
		memcpy(key + 2, p + 2, idlen);
		key[2 + idlen] = 0;
		memcpy(key + 2 + idlen + 1, p + 2 + idlen, 8);
		used = 2 + idlen + 8;
		break;
	default:	/* "s/" cid */
		if (n < 2 || (idlen = p[1]) + 2 > n)
			return (0);
		klen = 2 + idlen;
		key = xmalloc(klen);
		memcpy(key, "s/", 2);
		memcpy(key + 2, p + 2, idlen);
		used = 2 + idlen;
		break;
	}
	vlen = n - used;
	val = xmalloc(vlen + 4);
	memcpy(val, p + used, vlen);
	crc = store_crc32(0, key, klen);
	crc = store_crc32(crc, val, vlen);
	val[vlen] = (uint8_t)(crc >> 24);
	val[vlen + 1] = (uint8_t)(crc >> 16);
	val[vlen + 2] = (uint8_t)(crc >> 8);
	val[vlen + 3] = (uint8_t)crc;
	(void)ds_record_ok((struct str){ key, klen },
	    (struct str){ val, vlen + 4 });
	val[vlen + 3] ^= 0x5a;
	if (ds_record_ok((struct str){ key, klen },
	    (struct str){ val, vlen + 4 })) {
		fprintf(stderr, "ds_record_fuzzer: a bad checksum was "
		    "accepted\n");
		abort();
	}
	free(key);
	free(val);
	return (0);
}
