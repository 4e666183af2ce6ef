/*
 * retain.h: retained messages.
 *
 * One node-wide store (topic -> msg) behind a mutex: a retained publish and
 * a SUBSCRIBE take it, ordinary publishes never do.  Messages stay shared
 * by reference.
 */
#ifndef RETAIN_H
#define RETAIN_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

struct msg;

void	 retain_init(void);
/* Load the retained messages from the store (after retain_init). */
int	 retain_load(char **cause);
/* True if a retained record ("r/TOPIC") decodes; for store repair. */
bool	 retain_record_ok(struct str key, struct str val);
void	 retain_release(void);
/* Store (or, for an empty payload, delete) the retained message. */
void	 retain_put(struct msg *);
/* Call fn for each retained message matching filter (refs are held). */
void	 retain_match(struct str filter,
	    void (*fn)(struct msg *, void *), void *arg);
size_t	 retain_count(void);

#endif
