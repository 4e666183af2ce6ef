/*
 * buf.h: byte buffers and string views.
 *
 * A struct buf owns a heap region [data, data + cap) holding bytes
 * [data + off, data + len).  An empty buf holds no memory: idle connections
 * cost nothing for their buffers.  struct str is a borrowed view, never
 * NUL-terminated by promise.  Not thread-safe; one owner per buf.
 */
#ifndef BUF_H
#define BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct str {
	const uint8_t	*p;
	size_t		 len;
};

#define STR(s)		((struct str){ (const uint8_t *)(s), strlen(s) })
#define STR_NULL	((struct str){ NULL, 0 })
/* A view of a buffer's unread bytes. */
#define STRB(b)		((struct str){ buf_head(b), buf_used(b) })

/* 32-bit offsets keep a conn's two buffers small; 4 GB is far past any
 * packet or queue limit (buf_reserve aborts beyond it). */
struct buf {
	uint8_t		*data;
	uint32_t	 off;	/* first unread byte */
	uint32_t	 len;	/* end of bytes written */
	uint32_t	 cap;
};

static inline size_t
buf_used(const struct buf *b)
{
	return (b->len - b->off);
}

static inline const uint8_t *
buf_head(const struct buf *b)
{
	return (b->data + b->off);
}

void	 buf_init(struct buf *);
void	 buf_release(struct buf *);
void	 buf_reserve(struct buf *, size_t);
void	 buf_add(struct buf *, const void *, size_t);
void	 buf_add_str(struct buf *, struct str);
void	 buf_add_u8(struct buf *, uint8_t);
void	 buf_add_u16(struct buf *, uint16_t);
void	 buf_add_u32(struct buf *, uint32_t);
void	 buf_add_varint(struct buf *, uint32_t);
void	 buf_consume(struct buf *, size_t);
void	 buf_truncate(struct buf *, size_t);
void	 buf_shrink(struct buf *);

bool	 str_eq(struct str, struct str);
bool	 str_eq_cstr(struct str, const char *);
char	*str_dup(struct str);
size_t	 varint_len(uint32_t);

#endif
