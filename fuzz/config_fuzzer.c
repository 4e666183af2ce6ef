/*
 * config_fuzzer.c: fuzz target for the configuration loader (src/config.c).
 *
 * The input is a YAML file, or, when it starts with '!', environment
 * variables one per line.  Whatever loads is checked and dumped, and the
 * dump must load back to the same dump: the writers must print what the
 * parsers read.  Any other failure is a crash.
 *
 * Without libFuzzer, fuzz/replay.c runs the corpus through it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "xmalloc.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Dump c into a new string. */
static char *
fuzz_dump(const struct config *c, size_t *len)
{
	char	*s;
	FILE	*f;

	if ((f = open_memstream(&s, len)) == NULL)
		abort();
	config_dump(c, f);
	fclose(f);
	return (s);
}

/* Split input into a NULL-terminated environment array. */
static char **
fuzz_env(const char *s, size_t len)
{
	char		**envp = NULL;
	const char	*end = s + len, *nl;
	size_t		 n = 0;

	while (s < end) {
		if ((nl = memchr(s, '\n', (size_t)(end - s))) == NULL)
			nl = end;
		envp = xreallocarray(envp, n + 2, sizeof *envp);
		envp[n++] = xstrndup(s, (size_t)(nl - s));
		s = nl + 1;
	}
	envp = xreallocarray(envp, n + 1, sizeof *envp);
	envp[n] = NULL;
	return (envp);
}

/* Load, check, dump, reload: the dump must be stable. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config	*c, *d = NULL;
	char		*cause = NULL, *a = NULL, *b = NULL, **envp = NULL;
	size_t		 alen, blen, i;
	int		 rc;

	log_level = LOG_L_ERROR;
	c = config_new();
	if (size > 0 && data[0] == '!') {
		envp = fuzz_env((const char *)data + 1, size - 1);
		rc = config_load_env(c, envp, &cause);
	} else
		rc = config_load_string(c, "fuzz", (const char *)data, size,
		    &cause);
	if (rc != 0)
		goto fail;
	if (config_check(c, &cause) != 0) {
		free(cause);
		cause = NULL;
	}
	a = fuzz_dump(c, &alen);
	d = config_new();
	if (config_load_string(d, "dump", a, alen, &cause) != 0) {
		fprintf(stderr, "dump does not load: %s\n%s", cause, a);
		abort();
	}
	b = fuzz_dump(d, &blen);
	if (alen != blen || memcmp(a, b, alen) != 0) {
		fprintf(stderr, "dump changed on reload:\n%s---\n%s", a, b);
		abort();
	}

fail:
	for (i = 0; envp != NULL && envp[i] != NULL; i++)
		free(envp[i]);
	free(envp);
	free(cause);
	free(a);
	free(b);
	config_free(c);
	config_free(d);
	return (0);
}
