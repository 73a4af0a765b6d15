/*
 * Subcommands.  Usage errors exit 2, every other failure 1 (bundle.md
 * §2.2); `run` returns what the runtime returns.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>
#include <git2.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/opensslv.h>
#include <pcre2.h>
#include <yaml.h>
#include <zlib.h>

#include "llhttp.h"

#include "common/ca.h"
#include "common/cli.h"
#include "common/health.h"
#include "common/log.h"
#include "common/runtime.h"
#include "common/settings.h"
#include "common/snapshot.h"
#include "common/util.h"
#include "common/yaml.h"

#define CM_CLI_DEF_CONFIG_DIR	"/etc/bot-bottle"
#define CM_CLI_DEF_STATE_DIR	"/var/lib/bot-bottle"

static const char *const cm_cli_svc_names[CM_SVC_COUNT] = {
	[CM_SVC_EGRESS] = "egress",
	[CM_SVC_GITGATE] = "gitgate",
	[CM_SVC_SUPERVISE] = "supervise",
};

static void
cm_cli_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: bb-sidecar COMMAND [options]\n"
	    "\n"
	    "The security sidecar of a bot-bottle: egress proxy, git gate and\n"
	    "supervise MCP server in one process.\n"
	    "\n"
	    "commands:\n"
	    "  run            run the daemon (bb-sidecar run --help)\n"
	    "  check-config   validate the config dir as run would\n"
	    "  ca init DIR    create the bottle CA (ca.pem, ca-cert.pem)\n"
	    "  health         ask a running sidecar whether it is ready\n"
	    "  supervise      the operator's side of the approval queue\n"
	    "  version        print version and library versions as JSON\n"
	    "\n"
	    "Each command takes --help.\n");
}

static void
cm_cli_run_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: bb-sidecar run [--config-dir DIR] [--state-dir DIR]\n"
	    "           [--services LIST] [--workers N] [--log-level LEVEL]\n"
	    "           [--listen-egress A] [--listen-supervise A]\n"
	    "           [--listen-gitgate-git A] [--listen-gitgate-http A]\n"
	    "           [--listen-control A]\n"
	    "\n"
	    "  --config-dir DIR  policy files (default " CM_CLI_DEF_CONFIG_DIR ")\n"
	    "  --state-dir DIR   mirrors, supervise queue, audit log\n"
	    "                    (default " CM_CLI_DEF_STATE_DIR ")\n"
	    "  --services LIST   comma-separated subset of egress,gitgate,\n"
	    "                    supervise (env BOT_BOTTLE_SIDECAR_DAEMONS);\n"
	    "                    default: egress if routes.yaml exists, gitgate\n"
	    "                    if gitgate.yaml exists, supervise always\n"
	    "  --workers N       worker threads (0 = one per CPU)\n"
	    "  --log-level L     debug, info, warn or error\n"
	    "  --listen-* A      addr:port[,addr:port...], replaces the\n"
	    "                    sidecar.yaml key of the same name\n"
	    "\n"
	    "Signals: SIGTERM/SIGINT drain (8 s) and exit 0; SIGHUP reloads.\n"
	    "Exit: 0 after a signal, 1 start-up error, 2 usage, 3 fatal.\n"
	    "\n");
	cm_settings_help(fp);
}

/* Parses a services list into sel; 0 or -1 after printing why. */
static int
cm_cli_services(const char *list, const struct cm_cli_builtins *b,
    int sel[CM_SVC_COUNT], const char *origin)
{
	char	*copy, *tok, *save = NULL;
	int	 i, found, rc = 0;

	memset(sel, 0, sizeof(int) * CM_SVC_COUNT);
	if ((copy = strdup(list)) == NULL)
		return (-1);
	for (tok = strtok_r(copy, ", ", &save); tok != NULL;
	    tok = strtok_r(NULL, ", ", &save)) {
		/* The previous bundle's names for the gate. */
		if (strcmp(tok, "git-gate") == 0 || strcmp(tok, "git-http") == 0)
			tok = "gitgate";
		found = -1;
		for (i = 0; i < CM_SVC_COUNT; i++)
			if (strcmp(tok, cm_cli_svc_names[i]) == 0)
				found = i;
		if (found == -1) {
			fprintf(stderr, "bb-sidecar: %s: unknown service \"%s\" "
			    "(expected egress, gitgate, supervise)\n", origin,
			    tok);
			rc = -1;
			break;
		}
		if (b->svcs[found] == NULL) {
			fprintf(stderr, "bb-sidecar: %s: service \"%s\" is not "
			    "built into this binary yet\n", origin, tok);
			rc = -1;
			break;
		}
		sel[found] = 1;
	}
	free(copy);
	return (rc);
}

/* Fills o->svcs from --services, the env, or the defaults; 0/-1/-2. */
static int
cm_cli_select(const char *flag, const struct cm_cli_builtins *b,
    struct cm_run_opts *o, int allow_none)
{
	const char	*env = getenv("BOT_BOTTLE_SIDECAR_DAEMONS");
	int		 sel[CM_SVC_COUNT], i, any = 0;

	if (flag != NULL) {
		if (cm_cli_services(flag, b, sel, "--services") == -1)
			return (-2);
	} else if (env != NULL && env[0] != '\0') {
		if (cm_cli_services(env, b, sel,
		    "BOT_BOTTLE_SIDECAR_DAEMONS") == -1)
			return (-2);
	} else {
		for (i = 0; i < CM_SVC_COUNT; i++)
			sel[i] = b->svcs[i] != NULL && (b->svcs[i]->default_on ==
			    NULL || b->svcs[i]->default_on(o->config_dir));
	}
	for (i = 0; i < CM_SVC_COUNT; i++) {
		o->svcs[i] = sel[i] ? b->svcs[i] : NULL;
		any |= sel[i];
	}
	if (!any && !allow_none) {
		fprintf(stderr, "bb-sidecar: no service selected (built: ");
		for (i = 0; i < CM_SVC_COUNT; i++)
			if (b->svcs[i] != NULL)
				fprintf(stderr, "%s ", cm_cli_svc_names[i]);
		fprintf(stderr, ")\n");
		return (-1);
	}
	return (0);
}

enum {
	CM_OPT_CONFIG_DIR = 256, CM_OPT_STATE_DIR, CM_OPT_SERVICES,
	CM_OPT_WORKERS, CM_OPT_LOG_LEVEL, CM_OPT_LISTEN_EGRESS,
	CM_OPT_LISTEN_SUPERVISE, CM_OPT_LISTEN_GG_GIT, CM_OPT_LISTEN_GG_HTTP,
	CM_OPT_LISTEN_CONTROL, CM_OPT_HELP, CM_OPT_SLUG, CM_OPT_KEY,
	CM_OPT_FORCE, CM_OPT_CONTROL, CM_OPT_TIMEOUT,
};

static const struct option cm_cli_run_opts[] = {
	{ "config-dir", required_argument, NULL, CM_OPT_CONFIG_DIR },
	{ "state-dir", required_argument, NULL, CM_OPT_STATE_DIR },
	{ "services", required_argument, NULL, CM_OPT_SERVICES },
	{ "workers", required_argument, NULL, CM_OPT_WORKERS },
	{ "log-level", required_argument, NULL, CM_OPT_LOG_LEVEL },
	{ "listen-egress", required_argument, NULL, CM_OPT_LISTEN_EGRESS },
	{ "listen-supervise", required_argument, NULL, CM_OPT_LISTEN_SUPERVISE },
	{ "listen-gitgate-git", required_argument, NULL, CM_OPT_LISTEN_GG_GIT },
	{ "listen-gitgate-http", required_argument, NULL, CM_OPT_LISTEN_GG_HTTP },
	{ "listen-control", required_argument, NULL, CM_OPT_LISTEN_CONTROL },
	{ "help", no_argument, NULL, CM_OPT_HELP },
	{ NULL, 0, NULL, 0 }
};

/* Parses run's (and check-config's) options; 0, 1 = help shown, -1. */
static int
cm_cli_parse_run(int argc, char **argv, struct cm_run_opts *o,
    const char **services, void (*usage)(FILE *))
{
	enum cm_log_level lvl;
	char	*end;
	long	 n;
	int	 c;

	memset(o, 0, sizeof(*o));
	o->config_dir = CM_CLI_DEF_CONFIG_DIR;
	o->state_dir = CM_CLI_DEF_STATE_DIR;
	o->ov.workers = -1;
	o->ov.log_level = -1;
	*services = NULL;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", cm_cli_run_opts, NULL)) != -1) {
		switch (c) {
		case CM_OPT_CONFIG_DIR:
			o->config_dir = optarg;
			break;
		case CM_OPT_STATE_DIR:
			o->state_dir = optarg;
			break;
		case CM_OPT_SERVICES:
			*services = optarg;
			break;
		case CM_OPT_WORKERS:
			n = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || n < 0 ||
			    n > CM_MAX_WORKERS) {
				fprintf(stderr, "bb-sidecar: --workers must be "
				    "0..%d\n", CM_MAX_WORKERS);
				return (-1);
			}
			o->ov.workers = (int)n;
			break;
		case CM_OPT_LOG_LEVEL:
			if (cm_log_parse_level(optarg, &lvl) == -1) {
				fprintf(stderr, "bb-sidecar: --log-level must be "
				    "debug, info, warn or error\n");
				return (-1);
			}
			o->ov.log_level = (int)lvl;
			break;
		case CM_OPT_LISTEN_EGRESS:
			o->ov.listen[CM_L_EGRESS] = optarg;
			break;
		case CM_OPT_LISTEN_SUPERVISE:
			o->ov.listen[CM_L_SUPERVISE] = optarg;
			break;
		case CM_OPT_LISTEN_GG_GIT:
			o->ov.listen[CM_L_GITGATE_GIT] = optarg;
			break;
		case CM_OPT_LISTEN_GG_HTTP:
			o->ov.listen[CM_L_GITGATE_HTTP] = optarg;
			break;
		case CM_OPT_LISTEN_CONTROL:
			o->ov.listen[CM_L_CONTROL] = optarg;
			break;
		case CM_OPT_HELP:
			usage(stdout);
			return (1);
		default:
			usage(stderr);
			return (-1);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "bb-sidecar: unexpected argument \"%s\"\n",
		    argv[optind]);
		return (-1);
	}
	o->routes_path = getenv("EGRESS_ROUTES");
	return (0);
}

static int
cm_cli_run(int argc, char **argv, const struct cm_cli_builtins *b)
{
	struct cm_run_opts	 o;
	const char		*services;
	int			 rc;

	if ((rc = cm_cli_parse_run(argc, argv, &o, &services,
	    cm_cli_run_usage)) != 0)
		return (rc == 1 ? 0 : 2);
	if ((rc = cm_cli_select(services, b, &o, 0)) != 0)
		return (rc == -2 ? 2 : 1);
	return (cm_runtime_run(&o));
}

static void
cm_cli_check_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: bb-sidecar check-config [--config-dir DIR] [--services LIST]\n"
	    "\n"
	    "Validates every config file the selected services read, as run\n"
	    "would, and prints each error as file:line:col: key.path: reason.\n"
	    "Exit 0 valid, 1 invalid, 2 usage.\n");
}

static int
cm_cli_check_config(int argc, char **argv, const struct cm_cli_builtins *b)
{
	struct cm_run_opts	 o;
	struct cm_load_result	 res;
	struct cm_snap		*snap;
	const char		*services;
	int			 rc;

	if ((rc = cm_cli_parse_run(argc, argv, &o, &services,
	    cm_cli_check_usage)) != 0)
		return (rc == 1 ? 0 : 2);
	/* With no service, the common files are still checked. */
	if ((rc = cm_cli_select(services, b, &o, 1)) != 0)
		return (rc == -2 ? 2 : 1);
	snap = cm_snap_load(o.config_dir, o.state_dir, o.svcs, &o.ov, 1,
	    stdout, &res);
	if (snap == NULL) {
		printf("%s: %zu error%s\n", o.config_dir, res.nerrors,
		    res.nerrors == 1 ? "" : "s");
		return (1);
	}
	for (rc = 0; rc < CM_SVC_COUNT; rc++)
		if (o.svcs[rc] != NULL && o.svcs[rc]->check_report != NULL &&
		    snap->svc[rc] != NULL)
			o.svcs[rc]->check_report(snap->svc[rc], stdout);
	cm_snap_unref(snap);
	printf("%s: ok\n", o.config_dir);
	return (0);
}

static void
cm_cli_ca_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: bb-sidecar ca init DIR [--slug SLUG] [--key ec|rsa] [--force]\n"
	    "\n"
	    "Writes DIR/ca.pem (0600: certificate and key) and DIR/ca-cert.pem\n"
	    "(0644, for the agent).  Slug: --slug, else BOT_BOTTLE_SLUG, else\n"
	    "SUPERVISE_BOTTLE_SLUG, else supervise.bottle of DIR/sidecar.yaml,\n"
	    "else \"local\".  An existing file is kept unless --force.\n");
}

/* The bottle slug in the one order every subcommand uses. */
static const char *
cm_cli_slug(const char *flag, const char *dir, char *buf, size_t size)
{
	struct cm_cfg_ctx	*cx;
	struct cm_settings	*s;
	char			 path[4096];
	const char		*v;

	if (flag != NULL)
		return (flag);
	if ((v = getenv("BOT_BOTTLE_SLUG")) != NULL && v[0] != '\0')
		return (v);
	if ((v = getenv("SUPERVISE_BOTTLE_SLUG")) != NULL && v[0] != '\0')
		return (v);
	(void)snprintf(path, sizeof(path), "%s/sidecar.yaml", dir);
	if ((cx = calloc(1, sizeof(*cx))) != NULL) {
		cx->path = "sidecar.yaml";
		s = cm_settings_load(cx, path);
		if (s != NULL && s->bottle != NULL) {
			cm_strlcpy(buf, s->bottle, size);
			cm_settings_free(s);
			free(cx);
			return (buf);
		}
		cm_settings_free(s);
		free(cx);
	}
	return ("local");
}

static int
cm_cli_ca(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "slug", required_argument, NULL, CM_OPT_SLUG },
		{ "key", required_argument, NULL, CM_OPT_KEY },
		{ "force", no_argument, NULL, CM_OPT_FORCE },
		{ "help", no_argument, NULL, CM_OPT_HELP },
		{ NULL, 0, NULL, 0 }
	};
	const char	*slug = NULL, *dir;
	char		 buf[80], err[512], *line;
	json_t		*info = NULL;
	int		 c, rsa = 0, force = 0;

	if (argc < 2 || strcmp(argv[1], "--help") == 0) {
		cm_cli_ca_usage(argc < 2 ? stderr : stdout);
		return (argc < 2 ? 2 : 0);
	}
	if (strcmp(argv[1], "init") != 0) {
		fprintf(stderr, "bb-sidecar: ca: unknown command \"%s\"\n",
		    argv[1]);
		cm_cli_ca_usage(stderr);
		return (2);
	}
	optind = 1;
	while ((c = getopt_long(argc - 1, argv + 1, "", opts, NULL)) != -1) {
		switch (c) {
		case CM_OPT_SLUG:
			slug = optarg;
			break;
		case CM_OPT_KEY:
			if (strcmp(optarg, "rsa") == 0)
				rsa = 1;
			else if (strcmp(optarg, "ec") != 0) {
				fprintf(stderr, "bb-sidecar: --key must be ec "
				    "or rsa\n");
				return (2);
			}
			break;
		case CM_OPT_FORCE:
			force = 1;
			break;
		case CM_OPT_HELP:
			cm_cli_ca_usage(stdout);
			return (0);
		default:
			cm_cli_ca_usage(stderr);
			return (2);
		}
	}
	if (optind + 1 != argc - 1) {
		cm_cli_ca_usage(stderr);
		return (2);
	}
	dir = argv[optind + 1];
	slug = cm_cli_slug(slug, dir, buf, sizeof(buf));
	if (!cm_ca_slug_valid(slug)) {
		fprintf(stderr, "bb-sidecar: slug \"%s\" must match "
		    "[A-Za-z0-9._-]{1,64}\n", slug);
		return (2);
	}
	if (cm_ca_init(dir, slug, rsa, force, &info, err, sizeof(err)) == -1) {
		fprintf(stderr, "bb-sidecar: ca init: %s\n", err);
		return (1);
	}
	json_object_set_new(info, "slug", json_string(slug));
	if ((line = json_dumps(info, JSON_COMPACT | JSON_PRESERVE_ORDER)) != NULL)
		printf("%s\n", line);
	free(line);
	json_decref(info);
	return (0);
}

static int
cm_cli_version(int argc, char **argv, const struct cm_cli_builtins *b)
{
	json_t	*o, *svcs;
	size_t	 i;
	char	*line;
	int	 major, minor, rev, feat;
	char	 git[32], llh[32], pcre[64];

	if (argc > 1 && strcmp(argv[1], "--help") == 0) {
		printf("usage: bb-sidecar version\n\nPrints one JSON line: "
		    "version, revision, library versions, libgit2 features.\n");
		return (0);
	}
	git_libgit2_init();
	git_libgit2_version(&major, &minor, &rev);
	feat = git_libgit2_features();
	(void)snprintf(git, sizeof(git), "%d.%d.%d", major, minor, rev);
	(void)pcre2_config(PCRE2_CONFIG_VERSION, pcre);
	(void)snprintf(llh, sizeof(llh), "%d.%d.%d", LLHTTP_VERSION_MAJOR,
	    LLHTTP_VERSION_MINOR, LLHTTP_VERSION_PATCH);
	o = json_pack("{s:s,s:s,s:{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s},"
	    "s:{s:b,s:b,s:b}}",
	    "version", PACKAGE_VERSION, "revision", BB_REVISION,
	    "libraries", "libevent", event_get_version(),
	    "openssl", OpenSSL_version(OPENSSL_VERSION_STRING),
	    "libgit2", git, "llhttp", llh, "libyaml", yaml_get_version_string(),
	    "jansson", jansson_version_str(), "pcre2", pcre,
	    "zlib", zlibVersion(),
	    "libgit2_features",
	    "ssh", (feat & GIT_FEATURE_SSH) != 0,
	    "https", (feat & GIT_FEATURE_HTTPS) != 0,
	    "threads", (feat & GIT_FEATURE_THREADS) != 0);
	git_libgit2_shutdown();
	if (o == NULL)
		return (1);
	/* The services this binary has (the launcher may check). */
	svcs = json_array();
	for (i = 0; i < CM_SVC_COUNT; i++)
		if (b->svcs[i] != NULL)
			json_array_append_new(svcs, json_string(b->svcs[i]->name));
	json_object_set_new(o, "services", svcs);
	line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (line == NULL)
		return (1);
	printf("%s\n", line);
	free(line);
	return (0);
}

int
cm_cli_main(int argc, char **argv, const struct cm_cli_builtins *b)
{
	const char	*cmd;

	if (argc < 2) {
		cm_cli_usage(stderr);
		return (2);
	}
	cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 ||
	    strcmp(cmd, "help") == 0) {
		cm_cli_usage(stdout);
		return (0);
	}
	if (strcmp(cmd, "run") == 0)
		return (cm_cli_run(argc - 1, argv + 1, b));
	if (strcmp(cmd, "check-config") == 0)
		return (cm_cli_check_config(argc - 1, argv + 1, b));
	if (strcmp(cmd, "ca") == 0)
		return (cm_cli_ca(argc - 1, argv + 1));
	if (strcmp(cmd, "health") == 0)
		return (cm_health_main(argc - 1, argv + 1));
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0)
		return (cm_cli_version(argc - 1, argv + 1, b));
	if (strcmp(cmd, "supervise") == 0) {
		if (b->supervise == NULL) {
			fprintf(stderr, "bb-sidecar: supervise: not built into "
			    "this binary yet\n");
			return (2);
		}
		return (b->supervise(argc - 1, argv + 1));
	}
	fprintf(stderr, "bb-sidecar: unknown command \"%s\"\n", cmd);
	cm_cli_usage(stderr);
	return (2);
}
