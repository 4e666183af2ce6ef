/*
 * buf.c: byte buffers and string views (see buf.h).
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "xmalloc.h"

/* Make an empty buffer. */
void
buf_init(struct buf *b)
{
	b->data = NULL;
	b->off = b->len = b->cap = 0;
}

/* Free a buffer's memory; it stays usable and empty. */
void
buf_release(struct buf *b)
{
	free(b->data);
	buf_init(b);
}

/*
 * Make room for n more bytes after len.  The consumed front is reclaimed
 * (the rest moved down) only when it is at least as large as the rest;
 * otherwise the buffer doubles.  So each byte is moved a bounded number of
 * times on average, however much a slow reader leaves in the buffer: a
 * buffer nearly full of unsent bytes would otherwise move all of them for
 * every few bytes added.
 */
void
buf_reserve(struct buf *b, size_t n)
{
	size_t	 need, cap, used = b->len - b->off;

	if (b->len + n <= b->cap)
		return;
	if (b->off != 0 && b->off >= used && used + n <= b->cap) {
		memmove(b->data, b->data + b->off, used);
		b->len = used;
		b->off = 0;
		return;
	}
	need = used + n;
	if (n > UINT32_MAX || need > UINT32_MAX)
		fatal("buf: %zu bytes is more than a buffer holds", need);
	cap = b->cap == 0 ? 256 : b->cap * 2;
	while (cap < need)
		cap *= 2;
	if (cap > UINT32_MAX)
		cap = UINT32_MAX;
	if (b->off != 0) {
		memmove(b->data, b->data + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
	}
	b->data = xrealloc(b->data, cap);
	b->cap = cap;
}

/* Append n bytes. */
void
buf_add(struct buf *b, const void *p, size_t n)
{
	if (n == 0)
		return;
	buf_reserve(b, n);
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

/* Append a view's bytes. */
void
buf_add_str(struct buf *b, struct str s)
{
	buf_add(b, s.p, s.len);
}

/* Append one byte. */
void
buf_add_u8(struct buf *b, uint8_t v)
{
	buf_reserve(b, 1);
	b->data[b->len++] = v;
}

/* Append a big-endian 16-bit integer. */
void
buf_add_u16(struct buf *b, uint16_t v)
{
	buf_reserve(b, 2);
	b->data[b->len++] = (uint8_t)(v >> 8);
	b->data[b->len++] = (uint8_t)v;
}

/* Append a big-endian 32-bit integer. */
void
buf_add_u32(struct buf *b, uint32_t v)
{
	buf_reserve(b, 4);
	b->data[b->len++] = (uint8_t)(v >> 24);
	b->data[b->len++] = (uint8_t)(v >> 16);
	b->data[b->len++] = (uint8_t)(v >> 8);
	b->data[b->len++] = (uint8_t)v;
}

/* Append an MQTT variable byte integer (v < 268435456). */
void
buf_add_varint(struct buf *b, uint32_t v)
{
	buf_reserve(b, 4);
	do {
		uint8_t	 c = v & 0x7f;

		v >>= 7;
		if (v != 0)
			c |= 0x80;
		b->data[b->len++] = c;
	} while (v != 0);
}

/* Bytes needed for v as a variable byte integer. */
size_t
varint_len(uint32_t v)
{
	if (v < 128)
		return (1);
	if (v < 16384)
		return (2);
	if (v < 2097152)
		return (3);
	return (4);
}

/* Drop n bytes from the front (the memory stays: see buf_shrink). */
void
buf_consume(struct buf *b, size_t n)
{
	b->off += n;
	if (b->off >= b->len)
		b->off = b->len = 0;
}

/* Cut the written bytes back to length len (an absolute offset). */
void
buf_truncate(struct buf *b, size_t len)
{
	if (len < b->len)
		b->len = len;
	if (b->off > b->len)
		b->off = b->len;
}

/* Give memory back when the buffer is empty or mostly unused. */
void
buf_shrink(struct buf *b)
{
	if (buf_used(b) == 0)
		buf_release(b);
}

/* Compare two views byte for byte. */
bool
str_eq(struct str a, struct str b)
{
	return (a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0));
}

/* Compare a view with a C string. */
bool
str_eq_cstr(struct str a, const char *s)
{
	return (str_eq(a, STR(s)));
}

/* Copy a view into a new NUL-terminated string. */
char *
str_dup(struct str s)
{
	char	*p;

	p = xmalloc(s.len + 1);
	if (s.len != 0)
		memcpy(p, s.p, s.len);
	p[s.len] = '\0';
	return (p);
}
