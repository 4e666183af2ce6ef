/*
 * replay.c: run a fuzz target without libFuzzer.
 *
 * Linked with any <target>_fuzzer.c when libFuzzer is absent, so that
 * `make check` replays the corpus and saved crashers.  Each argument is a
 * file or a directory (its regular files, in name order, dot files
 * skipped); each file goes once through LLVMFuzzerTestOneInput() and gets
 * one TAP line.  A target signals failure by aborting, which the harness
 * sees as a missing plan.  Single-threaded.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int	replay_n;
static int	replay_failed;

/* Read a whole file into a new buffer; NULL on failure. */
static uint8_t *
replay_read(const char *path, size_t *len)
{
	FILE		*f;
	uint8_t		*p = NULL;
	long		 n;

	if ((f = fopen(path, "rb")) == NULL)
		return (NULL);
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0)
		goto fail;
	/* One spare byte so that an empty file still gets a pointer. */
	if ((p = malloc((size_t)n + 1)) == NULL)
		goto fail;
	if (fread(p, 1, (size_t)n, f) != (size_t)n)
		goto fail;
	fclose(f);
	*len = (size_t)n;
	return (p);

fail:
	free(p);
	fclose(f);
	return (NULL);
}

/* Replay one file and print its TAP line. */
static void
replay_file(const char *path)
{
	uint8_t		*p;
	size_t		 len;

	replay_n++;
	if ((p = replay_read(path, &len)) == NULL) {
		replay_failed++;
		printf("not ok %d - %s: %s\n", replay_n, path,
		    strerror(errno));
		return;
	}
	fflush(stdout);
	LLVMFuzzerTestOneInput(p, len);
	free(p);
	printf("ok %d - %s (%zu bytes)\n", replay_n, path, len);
	fflush(stdout);
}

/* Skip dot files when scanning a directory. */
static int
replay_visible(const struct dirent *d)
{
	return (d->d_name[0] != '.');
}

/* Replay every regular file of a directory, in name order. */
static void
replay_dir(const char *dir)
{
	struct dirent	**list;
	struct stat	  sb;
	char		 *path;
	int		  i, n;
	size_t		  len;

	if ((n = scandir(dir, &list, replay_visible, alphasort)) < 0) {
		replay_n++;
		replay_failed++;
		printf("not ok %d - %s: %s\n", replay_n, dir,
		    strerror(errno));
		return;
	}
	for (i = 0; i < n; i++) {
		len = strlen(dir) + strlen(list[i]->d_name) + 2;
		if ((path = malloc(len)) == NULL)
			abort();
		snprintf(path, len, "%s/%s", dir, list[i]->d_name);
		if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode))
			replay_file(path);
		free(path);
		free(list[i]);
	}
	free(list);
}

/* Replay each file or directory argument, then print the TAP plan. */
int
main(int argc, char **argv)
{
	struct stat	 sb;
	int		 i;

	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &sb) == 0 && S_ISDIR(sb.st_mode))
			replay_dir(argv[i]);
		else
			replay_file(argv[i]);
	}
	printf("1..%d\n", replay_n);
	return (replay_failed == 0 ? 0 : 1);
}
