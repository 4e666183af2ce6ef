/*
 * main.c: argv, initialisation order, the node loop, reverse shutdown.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "banned.h"
#include "cluster.h"
#include "config.h"
#include "ctl.h"
#include "ds.h"
#include "http.h"
#include "link.h"
#include "listener.h"
#include "log.h"
#include "retain.h"
#include "store.h"
#include "router.h"
#include "sys.h"
#include "worker.h"
#include "xmalloc.h"

#ifndef FLOCKMQ_CONFIG_FILE
#define FLOCKMQ_CONFIG_FILE "/etc/flockmq/flockmq.yaml"
#endif

extern char	**environ;
struct config	 *config;

static ev_signal	 main_sigterm, main_sigint;
static char		*main_pidfile;
static int		 main_ready_fd = -1;

/* Usage, to stderr. */
static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr,
	    "usage: flockmq [-c FILE] foreground | start | stop | "
	    "check-config | version | store repair | ctl ARGS...\n"
	    "  foreground    run in the foreground, logging to stderr\n"
	    "  start         run as a daemon (pid file in node.data_dir)\n"
	    "  stop          stop the daemon started with 'start'\n"
	    "  check-config  validate the configuration and print it\n"
	    "  version       print the version\n"
	    "  config-example  print an example configuration with every key\n"
	    "  store repair  salvage a damaged store (the node stopped)\n"
	    "  ctl ARGS...   manage the running node ('ctl help' lists them)\n"
	    "  -c FILE       configuration file (default %s)\n",
	    FLOCKMQ_CONFIG_FILE);
	exit(2);
}

/* Load defaults, the file and the environment; exits on error. */
static struct config *
main_config(const char *path, int explicit, int quiet)
{
	struct config	*c;
	char		*cause = NULL;

	c = config_new();
	if (explicit || access(path, F_OK) == 0) {
		if (config_load_file(c, path, &cause) != 0)
			goto fail;
	} else if (!quiet)
		fprintf(stderr, "flockmq: no configuration file '%s', using "
		    "the embedded defaults\n", path);
	if (config_load_env(c, environ, &cause) != 0 ||
	    config_check(c, &cause) != 0)
		goto fail;
	return (c);
fail:
	fprintf(stderr, "flockmq: %s\n", cause);
	free(cause);
	config_free(c);
	exit(1);
}

/* mkdir -p. */
static int
main_mkdirs(const char *path)
{
	char	*p, *s = xstrdup(path);

	for (p = s + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(s, 0750) != 0 && errno != EEXIST)
			goto fail;
		*p = '/';
	}
	if (mkdir(s, 0750) != 0 && errno != EEXIST)
		goto fail;
	free(s);
	return (0);
fail:
	free(s);
	return (-1);
}

/* The pid file path. */
static char *
main_pidfile_path(void)
{
	char	*p;

	xasprintf(&p, "%s/flockmq.pid", config->node_data_dir);
	return (p);
}

/* SIGTERM / SIGINT: stop the workers, then leave the node loop. */
static void
main_signal_cb(EV_P_ ev_signal *w, int revents)
{
	(void)revents;
	log_notice("main: %s received, shutting down",
	    w->signum == SIGTERM ? "SIGTERM" : "SIGINT");
	ev_signal_stop(EV_A, &main_sigterm);
	ev_signal_stop(EV_A, &main_sigint);
	/* HTTP first: its requests may wait for the workers. */
	http_release();
	worker_stop_all();
	ev_break(EV_A, EVBREAK_ALL);
}

/* Start a listener's accepts on one worker. */
static void
main_start_accepts(struct worker *w, void *arg)
{
	(void)arg;
	listener_worker_start(w);
}

/* Raise the open-file limit to the hard limit. */
static void
main_rlimit(void)
{
	struct rlimit	 rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* True if pid is a live flockmq process (not a reused pid). */
static int
main_pid_is_flockmq(long pid)
{
	char	 path[64], comm[64];
	FILE	*f;
	int	 ok = 0;

	if (pid <= 0 || kill((pid_t)pid, 0) != 0)
		return (0);
	snprintf(path, sizeof path, "/proc/%ld/comm", pid);
	if ((f = fopen(path, "r")) == NULL)
		return (0);
	if (fgets(comm, sizeof comm, f) != NULL)
		ok = strncmp(comm, "flockmq", 7) == 0;
	fclose(f);
	return (ok);
}

/* Write the pid file. */
static void
main_write_pidfile(void)
{
	FILE	*f;

	main_pidfile = main_pidfile_path();
	if ((f = fopen(main_pidfile, "w")) == NULL)
		fatalx_errno("main: cannot write pid file '%s'", main_pidfile);
	fprintf(f, "%ld\n", (long)getpid());
	fclose(f);
}

/* Run the broker until a signal stops it. */
static int
main_run(int daemon_mode)
{
	struct ev_loop	*loop;
	char		*cause = NULL, *logpath = NULL;
	unsigned	 nw;
	long		 cores;
	size_t		 i;

	signal(SIGPIPE, SIG_IGN);
	main_rlimit();
	if (main_mkdirs(config->node_data_dir) != 0)
		fatalx_errno("main: cannot create node.data_dir '%s'",
		    config->node_data_dir);
	if (config->log_file_enable || daemon_mode) {
		if (config->log_file_path[0] != '\0')
			logpath = xstrdup(config->log_file_path);
		else {
			xasprintf(&logpath, "%s/log", config->node_data_dir);
			main_mkdirs(logpath);
			free(logpath);
			xasprintf(&logpath, "%s/log/flockmq.log",
			    config->node_data_dir);
		}
	}
	/* log.console.enable false and no file: nothing is logged. */
	if (logpath == NULL && !config->log_console_enable)
		logpath = xstrdup("/dev/null");
	if (log_open(logpath, logpath != NULL && config->log_file_enable ?
	    config->log_file_level : config->log_console_level, &cause) != 0)
		fatal("%s", cause);
	free(logpath);

	nw = (unsigned)config->mqtt_workers;
	if (nw == 0) {
		cores = sysconf(_SC_NPROCESSORS_ONLN);
		nw = cores < 1 ? 1 : cores > WORKER_MAX ? WORKER_MAX :
		    (unsigned)cores;
	}
	loop = ev_default_loop(EVFLAG_AUTO);
	if (store_open(config->node_data_dir, &cause) != 0)
		goto fail;
	if (banned_init(&cause) != 0)
		goto fail_banned;
	retain_init();
	if (retain_load(&cause) != 0)
		goto fail_retain;
	if (ds_init(&cause) != 0)
		goto fail_ds;
	if (worker_start_all(nw, &cause) != 0)
		fatal("%s", cause);
	if (listener_init(&cause) != 0)
		goto fail_listeners;
	ds_restore();
	worker_call_all_wait(main_start_accepts, NULL);
	sys_init(loop);
	if (link_init(loop, &cause) != 0)
		goto fail_link;
	if (cluster_init(loop, &cause) != 0)
		goto fail_cluster;
	if (http_init(&cause) != 0)
		goto fail_http;

	ev_signal_init(&main_sigterm, main_signal_cb, SIGTERM);
	ev_signal_start(loop, &main_sigterm);
	ev_signal_init(&main_sigint, main_signal_cb, SIGINT);
	ev_signal_start(loop, &main_sigint);

	if (daemon_mode)
		main_write_pidfile();
	{
		char	*ls = NULL, *tmp;

		for (i = 0; i < n_listeners; i++) {
			if (!listeners[i]->running)
				continue;
			xasprintf(&tmp, "%s%s%s %s", ls != NULL ? ls : "",
			    ls != NULL ? ", " : "", listeners[i]->id,
			    listeners[i]->bind_text);
			free(ls);
			ls = tmp;
		}
		/* Always logged, whatever the level: tools wait for it. */
		log_write(LOG_L_NOTICE, "flockmq is ready: node '%s', %u workers, "
		    "listeners: %s; dashboard: %s", config->node_name, nw,
		    ls != NULL ? ls : "none",
		    config->dashboard_listeners_http_enable ?
		    config->dashboard_listeners_http_bind : "off");
		free(ls);
	}
	if (main_ready_fd != -1) {
		(void)write(main_ready_fd, "1", 1);
		close(main_ready_fd);
		main_ready_fd = -1;
	}

	ev_run(loop, 0);

	/* Reverse order. */
	cluster_release();
	link_release();
	sys_release();
	worker_join_all();
	listener_free_all();
	retain_release();
	banned_release();
	store_close();
	router_exclusive_free_all();
	if (main_pidfile != NULL) {
		unlink(main_pidfile);
		free(main_pidfile);
	}
	log_notice("main: stopped");
	ev_loop_destroy(loop);
	return (0);

	/* Start-up failed: undo what was done, in reverse order. */
fail_http:
	http_release();
fail_cluster:
	cluster_release();
fail_link:
	link_release();
	sys_release();
	worker_stop_all();
	worker_join_all();
	listener_free_all();
	goto fail_retain;
fail_listeners:
	worker_stop_all();
	worker_join_all();
	goto fail_retain;
fail_ds:
	ds_shutdown();
fail_retain:
	retain_release();
fail_banned:
	banned_release();
	store_close();
fail:
	log_err("%s", cause);
	free(cause);
	return (1);
}

/* Fork into the background; the parent waits for the readiness byte. */
static int
main_start(void)
{
	int	 fds[2], fd, status;
	pid_t	 pid;
	char	 c;
	char	*pf;
	FILE	*f;
	long	 old;

	pf = main_pidfile_path();
	if ((f = fopen(pf, "r")) != NULL) {
		if (fscanf(f, "%ld", &old) == 1 && main_pid_is_flockmq(old)) {
			fprintf(stderr, "flockmq: already running (pid %ld, "
			    "pid file '%s')\n", old, pf);
			fclose(f);
			free(pf);
			return (1);
		}
		fclose(f);
	}
	free(pf);
	if (main_mkdirs(config->node_data_dir) != 0) {
		fprintf(stderr, "flockmq: cannot create node.data_dir '%s': "
		    "%s\n", config->node_data_dir, strerror(errno));
		return (1);
	}
	if (pipe(fds) != 0) {
		perror("flockmq: pipe");
		return (1);
	}
	if ((pid = fork()) == -1) {
		perror("flockmq: fork");
		return (1);
	}
	if (pid > 0) {
		close(fds[1]);
		if (read(fds[0], &c, 1) == 1) {
			printf("flockmq started (pid %ld)\n", (long)pid);
			return (0);
		}
		waitpid(pid, &status, WNOHANG);
		fprintf(stderr, "flockmq: failed to start; see the log in "
		    "'%s/log/flockmq.log'\n", config->node_data_dir);
		return (1);
	}
	close(fds[0]);
	main_ready_fd = fds[1];
	setsid();
	if ((fd = open("/dev/null", O_RDWR)) != -1) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	exit(main_run(1));
}

/* Whether a record of the store decodes: what store repair keeps. */
static bool
main_store_check(struct str key, struct str val)
{
	if (key.len == 9 && memcmp(key.p, "m/version", 9) == 0)
		return (true);
	if (key.len > 2 && memcmp(key.p, "r/", 2) == 0)
		return (retain_record_ok(key, val));
	if (key.len > 2 && memcmp(key.p, "b/", 2) == 0)
		return (banned_record_ok(key, val));
	if (key.len > 2 && (memcmp(key.p, "u/", 2) == 0 ||
	    memcmp(key.p, "k/", 2) == 0))
		return (http_record_ok(key, val));
	return (ds_record_ok(key, val));
}

/* flockmq store repair: salvage a damaged store (the node stopped). */
static int
main_store_repair(void)
{
	uint64_t	 kept = 0, dropped = 0;
	char		*cause = NULL;

	if (store_repair(config->node_data_dir, main_store_check, &kept,
	    &dropped, &cause) != 0) {
		fprintf(stderr, "flockmq: %s\n", cause);
		free(cause);
		return (1);
	}
	printf("flockmq: store repaired in '%s/store': %llu records kept, "
	    "%llu damaged records dropped\n", config->node_data_dir,
	    (unsigned long long)kept, (unsigned long long)dropped);
	return (0);
}

/* Send SIGTERM to the daemon and wait for it to go. */
static int
main_stop(void)
{
	char		*pf = main_pidfile_path();
	FILE		*f;
	long		 pid;
	int		 i;
	struct timespec	 ts = { 0, 100 * 1000 * 1000 };

	if ((f = fopen(pf, "r")) == NULL) {
		fprintf(stderr, "flockmq: not running (no pid file '%s')\n",
		    pf);
		free(pf);
		return (1);
	}
	if (fscanf(f, "%ld", &pid) != 1 || pid <= 0) {
		fprintf(stderr, "flockmq: bad pid file '%s'\n", pf);
		fclose(f);
		free(pf);
		return (1);
	}
	fclose(f);
	if (!main_pid_is_flockmq(pid)) {
		fprintf(stderr, "flockmq: not running (pid %ld in '%s' is not "
		    "flockmq; removing the stale pid file)\n", pid, pf);
		unlink(pf);
		free(pf);
		return (1);
	}
	if (kill((pid_t)pid, SIGTERM) != 0) {
		fprintf(stderr, "flockmq: cannot signal pid %ld: %s\n", pid,
		    strerror(errno));
		free(pf);
		return (1);
	}
	for (i = 0; i < 600; i++) {
		if (kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
			printf("flockmq stopped\n");
			free(pf);
			return (0);
		}
		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "flockmq: pid %ld did not stop within 60s\n", pid);
	free(pf);
	return (1);
}

int
main(int argc, char **argv)
{
	const char	*path = FLOCKMQ_CONFIG_FILE, *cmd;
	int		 ch, explicit = 0, rv;

	while ((ch = getopt(argc, argv, "+c:h")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			explicit = 1;
			break;
		default:
			usage();
		}
	}
	if (optind < argc && strcmp(argv[optind], "ctl") == 0) {
		config = main_config(path, explicit, 1);
		rv = ctl_main(argc - optind, argv + optind);
		config_free(config);
		return (rv);
	}
	if (optind == argc - 2 && strcmp(argv[optind], "store") == 0 &&
	    strcmp(argv[optind + 1], "repair") == 0) {
		config = main_config(path, explicit, 1);
		rv = main_store_repair();
		config_free(config);
		return (rv);
	}
	if (optind != argc - 1)
		usage();
	cmd = argv[optind];
	if (strcmp(cmd, "version") == 0) {
		printf("flockmq %s\n", PACKAGE_VERSION);
		return (0);
	}
	if (strcmp(cmd, "config-example") == 0) {
		config_example(stdout);
		return (0);
	}
	if (strcmp(cmd, "check-config") == 0) {
		config = main_config(path, explicit, 1);
		config_dump(config, stdout);
		fprintf(stderr, "flockmq: configuration is valid\n");
		config_free(config);
		return (0);
	}
	if (strcmp(cmd, "foreground") == 0) {
		config = main_config(path, explicit, 0);
		rv = main_run(0);
	} else if (strcmp(cmd, "start") == 0) {
		config = main_config(path, explicit, 1);
		rv = main_start();
	} else if (strcmp(cmd, "stop") == 0) {
		config = main_config(path, explicit, 1);
		rv = main_stop();
	} else
		usage();
	config_free(config);
	return (rv);
}
