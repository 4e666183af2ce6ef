/*
 * fuzz/retain_record_fuzzer.c: libFuzzer target for the stored record of a
 * retained message (retain.c; the encoding is in docs/storage.md).
 *
 * The input is one byte N, N bytes of topic, then a record value without
 * its checksum: the target appends the CRC-32 that the store would write,
 * so that the fuzzer gets past it to the lengths, the topic and the
 * properties, and asks retain_record_ok().  The same value with a wrong
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
#include "retain.h"
#include "store.h"
#include "xmalloc.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* main.c owns the configuration; retain.c links the engine, which reads
 * it (the record check itself does not). */
struct config	*config;

/* Decide on one input; see the file header. */
int
LLVMFuzzerTestOneInput(const uint8_t *p, size_t n)
{
	uint8_t		*key, *val;
	size_t		 klen, vlen;
	uint32_t	 crc;

	if (n < 1 || (size_t)p[0] + 1 > n)
		return (0);
	klen = 2 + p[0];
	key = xmalloc(klen);
	memcpy(key, "r/", 2);
	memcpy(key + 2, p + 1, p[0]);
	vlen = n - 1 - p[0];
	val = xmalloc(vlen + 4);
	memcpy(val, p + 1 + p[0], vlen);
	crc = store_crc32(0, key, klen);
	crc = store_crc32(crc, val, vlen);
	val[vlen] = (uint8_t)(crc >> 24);
	val[vlen + 1] = (uint8_t)(crc >> 16);
	val[vlen + 2] = (uint8_t)(crc >> 8);
	val[vlen + 3] = (uint8_t)crc;
	(void)retain_record_ok((struct str){ key, klen },
	    (struct str){ val, vlen + 4 });
	val[vlen + 3] ^= 0x5a;
	if (retain_record_ok((struct str){ key, klen },
	    (struct str){ val, vlen + 4 })) {
		fprintf(stderr, "retain_record_fuzzer: a bad checksum was "
		    "accepted\n");
		abort();
	}
	free(key);
	free(val);
	return (0);
}
