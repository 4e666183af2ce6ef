/*
 * store-tool.c: read and write a LevelDB database directly, to prepare the
 * store test cases (t/t6xxx) behind the broker's back.
 *
 *	store-tool DIR list		every record, sorted by key
 *	store-tool DIR get KEY		the value, raw, on stdout
 *	store-tool DIR put KEY VALUE	set KEY to VALUE (as given)
 *	store-tool DIR put-hex KEY HEX	set KEY to the bytes HEX spells
 *	store-tool DIR del KEY		delete KEY
 *
 * DIR is the LevelDB directory itself (<node.data_dir>/store for the
 * broker).  list prints "KEY<TAB>VALUE-HEX" per record, in LevelDB's order
 * (bytewise); in KEY a control byte, DEL or a backslash is written \xNN,
 * anything else as it is.  put and put-hex create the database if it is
 * missing; the other commands do not.  Writes are synchronous.  The tool
 * knows nothing of the broker's record encoding: it is for making damaged
 * and foreign records as much as for looking.
 *
 * Exit status: 0 done; 1 an error (cannot open, KEY absent for get or del,
 * bad HEX), with a line on stderr; 2 usage.  One process, no threads; it
 * takes LevelDB's lock, so it fails while a broker has the database open.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <leveldb/c.h>

/* What a command needs. */
enum st_flags {
	ST_CREATE = 0x1,	/* create the database if it is missing */
};

/* One command: name, operands after it, flags, function. */
struct st_cmd {
	const char	*name;
	int		 nargs;
	int		 flags;
	int		(*exec)(leveldb_t *, char **);
};

static int	st_list(leveldb_t *, char **);
static int	st_get(leveldb_t *, char **);
static int	st_put(leveldb_t *, char **);
static int	st_put_hex(leveldb_t *, char **);
static int	st_del(leveldb_t *, char **);

static const struct st_cmd st_cmds[] = {
	{ "list", 0, 0, st_list },
	{ "get", 1, 0, st_get },
	{ "put", 2, ST_CREATE, st_put },
	{ "put-hex", 2, ST_CREATE, st_put_hex },
	{ "del", 1, 0, st_del },
};

/* Print the usage and exit 2. */
static void
usage(void)
{
	fprintf(stderr, "usage: store-tool DIR list\n"
	    "       store-tool DIR get KEY\n"
	    "       store-tool DIR put KEY VALUE\n"
	    "       store-tool DIR put-hex KEY HEX\n"
	    "       store-tool DIR del KEY\n");
	exit(2);
}

/* Print a LevelDB error with what failed, and free it. */
static void
st_error(const char *what, const char *key, char *err)
{
	if (key != NULL)
		fprintf(stderr, "store-tool: %s '%s': %s\n", what, key, err);
	else
		fprintf(stderr, "store-tool: %s: %s\n", what, err);
	leveldb_free(err);
}

/* Print a key, escaping control bytes, DEL and backslash. */
static void
st_print_key(const unsigned char *p, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++) {
		if (p[i] < 0x20 || p[i] == 0x7f || p[i] == '\\')
			printf("\\x%02x", p[i]);
		else
			putchar(p[i]);
	}
}

/* Print every record as KEY<TAB>VALUE-HEX, in key order. */
static int
st_list(leveldb_t *db, char **argv)
{
	leveldb_readoptions_t	*ro;
	leveldb_iterator_t	*it;
	const unsigned char	*k, *v;
	size_t			 klen, vlen, i;
	char			*err = NULL;
	int			 rc = 0;

	ro = leveldb_readoptions_create();
	leveldb_readoptions_set_verify_checksums(ro, 1);
	it = leveldb_create_iterator(db, ro);
	for (leveldb_iter_seek_to_first(it); leveldb_iter_valid(it);
	    leveldb_iter_next(it)) {
		k = (const unsigned char *)leveldb_iter_key(it, &klen);
		v = (const unsigned char *)leveldb_iter_value(it, &vlen);
		st_print_key(k, klen);
		putchar('\t');
		for (i = 0; i < vlen; i++)
			printf("%02x", v[i]);
		putchar('\n');
	}
	leveldb_iter_get_error(it, &err);
	if (err != NULL) {
		st_error("cannot list", NULL, err);
		rc = -1;
	}
	leveldb_iter_destroy(it);
	leveldb_readoptions_destroy(ro);
	return (rc);
}

/*
 * Read KEY into *val (NULL if absent, else leveldb_free it).  Returns -1
 * after printing the error.
 */
static int
st_read(leveldb_t *db, const char *key, char **val, size_t *len)
{
	leveldb_readoptions_t	*ro;
	char			*err = NULL;

	ro = leveldb_readoptions_create();
	leveldb_readoptions_set_verify_checksums(ro, 1);
	*val = leveldb_get(db, ro, key, strlen(key), len, &err);
	leveldb_readoptions_destroy(ro);
	if (err != NULL) {
		st_error("cannot read", key, err);
		return (-1);
	}
	return (0);
}

/* Write KEY's value to stdout as it is; fail if KEY is absent. */
static int
st_get(leveldb_t *db, char **argv)
{
	char	*val;
	size_t	 len;
	int	 rc = 0;

	if (st_read(db, argv[0], &val, &len) != 0)
		return (-1);
	if (val == NULL) {
		fprintf(stderr, "store-tool: no key '%s'\n", argv[0]);
		return (-1);
	}
	if (len != 0 && fwrite(val, 1, len, stdout) != len)
		rc = -1;
	leveldb_free(val);
	return (rc);
}

/* Set KEY to LEN bytes at VAL, synchronously. */
static int
st_write(leveldb_t *db, const char *key, const char *val, size_t len)
{
	leveldb_writeoptions_t	*wo;
	char			*err = NULL;

	wo = leveldb_writeoptions_create();
	leveldb_writeoptions_set_sync(wo, 1);
	leveldb_put(db, wo, key, strlen(key), val, len, &err);
	leveldb_writeoptions_destroy(wo);
	if (err != NULL) {
		st_error("cannot write", key, err);
		return (-1);
	}
	return (0);
}

/* Set KEY to VALUE as given. */
static int
st_put(leveldb_t *db, char **argv)
{
	return (st_write(db, argv[0], argv[1], strlen(argv[1])));
}

/* The value of hex digit c, or -1. */
static int
st_hexdigit(int c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	return (-1);
}

/* Set KEY to the bytes HEX spells (an even number of hex digits). */
static int
st_put_hex(leveldb_t *db, char **argv)
{
	const char	*hex = argv[1];
	char		*val;
	size_t		 len = strlen(hex), i;
	int		 hi, lo, rc;

	if (len % 2 != 0) {
		fprintf(stderr, "store-tool: odd number of hex digits: '%s'\n",
		    hex);
		return (-1);
	}
	if ((val = malloc(len / 2 + 1)) == NULL) {
		fprintf(stderr, "store-tool: out of memory\n");
		return (-1);
	}
	for (i = 0; i < len / 2; i++) {
		hi = st_hexdigit((unsigned char)hex[2 * i]);
		lo = st_hexdigit((unsigned char)hex[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			fprintf(stderr, "store-tool: not hex: '%s'\n", hex);
			free(val);
			return (-1);
		}
		val[i] = (char)(hi << 4 | lo);
	}
	rc = st_write(db, argv[0], val, len / 2);
	free(val);
	return (rc);
}

/* Delete KEY; fail if it is absent. */
static int
st_del(leveldb_t *db, char **argv)
{
	leveldb_writeoptions_t	*wo;
	char			*val, *err = NULL;
	size_t			 len;

	if (st_read(db, argv[0], &val, &len) != 0)
		return (-1);
	if (val == NULL) {
		fprintf(stderr, "store-tool: no key '%s'\n", argv[0]);
		return (-1);
	}
	leveldb_free(val);
	wo = leveldb_writeoptions_create();
	leveldb_writeoptions_set_sync(wo, 1);
	leveldb_delete(db, wo, argv[0], strlen(argv[0]), &err);
	leveldb_writeoptions_destroy(wo);
	if (err != NULL) {
		st_error("cannot delete", argv[0], err);
		return (-1);
	}
	return (0);
}

/* Find the command, open DIR and run it. */
int
main(int argc, char **argv)
{
	const struct st_cmd	*cmd = NULL;
	leveldb_options_t	*opts;
	leveldb_t		*db;
	char			*err = NULL;
	size_t			 i;
	int			 rc;

	if (argc < 3)
		usage();
	for (i = 0; i < sizeof st_cmds / sizeof st_cmds[0]; i++) {
		if (strcmp(argv[2], st_cmds[i].name) == 0) {
			cmd = &st_cmds[i];
			break;
		}
	}
	if (cmd == NULL || argc != 3 + cmd->nargs)
		usage();

	opts = leveldb_options_create();
	leveldb_options_set_create_if_missing(opts,
	    (cmd->flags & ST_CREATE) != 0);
	leveldb_options_set_paranoid_checks(opts, 1);
	db = leveldb_open(opts, argv[1], &err);
	if (err != NULL) {
		st_error("cannot open", argv[1], err);
		leveldb_options_destroy(opts);
		return (1);
	}
	rc = cmd->exec(db, argv + 3);
	leveldb_close(db);
	leveldb_options_destroy(opts);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "store-tool: cannot write to stdout\n");
		rc = -1;
	}
	return (rc == 0 ? 0 : 1);
}
