/*
 * `supervise watch` (spec/supervise.md §6.4): every pending proposal,
 * oldest first, then each new one; one-line notices for decisions made
 * elsewhere and expiries.  On a terminal each proposal gets a prompt,
 * read line by line (canonical mode, no curses); every answer goes
 * through the same steps as approve and reject.  inotify on the host
 * wakes it early; a short poll is the fallback.
 */
#include "config.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "common/bounds.h"
#include "common/queue_file.h"
#include "common/util.h"
#include "supervise/op.h"

struct sv_seen {
	char	 id[CM_QUEUE_ID_BYTES];
	int	 present;	/* in pending/ at the last look */
	int	 expired;	/* the expiry notice was printed */
};

/* One line from stdin without its newline; 0, or -1 on EOF. */
static int
sv_watch_line(char *buf, size_t size)
{
	size_t	 n;

	fflush(stdout);
	if (fgets(buf, (int)size, stdin) == NULL)
		return (-1);
	n = strcspn(buf, "\r\n");
	buf[n] = '\0';
	return (0);
}

/* The prompt for one proposal; 1 to quit. */
static int
sv_watch_prompt(struct sv_op *op, const struct sv_op_item *it)
{
	char	 line[SV_MAX_PROMPT_BYTES], notes[SV_MAX_PROMPT_BYTES];
	int	 hold = cm_qfile_kind_is_hold(it->kind);

	for (;;) {
		printf("[a]pprove [r]eject [s]kip [q]uit ");
		if (sv_watch_line(line, sizeof(line)) == -1)
			return (1);
		if (strcmp(line, "q") == 0)
			return (1);
		if (strcmp(line, "s") == 0)
			return (0);
		if (strcmp(line, "a") == 0) {
			printf("%s", hold ? "reason (test fixture, false "
			    "positive...): " : "notes: ");
			if (sv_watch_line(notes, sizeof(notes)) == -1)
				return (1);
			if (hold && notes[0] == '\0') {
				printf("a reason is required for a hold\n");
				continue;
			}
			(void)sv_op_decide(op, SV_OP_APPROVE, it->id, notes,
			    NULL);
			return (0);
		}
		if (strcmp(line, "r") == 0) {
			printf("reason: ");
			if (sv_watch_line(notes, sizeof(notes)) == -1)
				return (1);
			if (notes[0] == '\0') {
				printf("a reason is required\n");
				continue;
			}
			(void)sv_op_decide(op, SV_OP_REJECT, it->id, notes,
			    NULL);
			return (0);
		}
	}
}

static void
sv_watch_print(struct sv_op *op, const struct sv_op_item *it)
{
	json_t	*o;
	char	*s, *sum;

	if (op->json) {
		sum = it->proposal != NULL ? sv_op_summary(it->proposal) : NULL;
		o = json_pack("{s:s,s:s,s:s,s:O?}", "id", it->id, "state",
		    it->state, "summary", sum != NULL ? sum : "", "proposal",
		    it->proposal);
		free(sum);
		if ((s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER)) !=
		    NULL)
			printf("%s\n", s);
		free(s);
		json_decref(o);
		return;
	}
	if (it->proposal != NULL)
		sv_op_print_proposal(op, stdout, it->proposal, it->state);
	else
		printf("%-12s %s\n%-12s %s\n", "id:", it->id, "state:",
		    it->state);
	printf("\n");
}

int
sv_op_watch(struct sv_op *op)
{
	struct sv_seen		*seen = NULL;
	struct sv_op_item	*items;
	struct pollfd		 pfd;
	char			 buf[4096], text[512];
	size_t			 nseen = 0, n, i, j;
	int			 tty = !op->json && isatty(STDIN_FILENO) &&
				    isatty(STDOUT_FILENO);
	int			 ifd, archived, quit = 0;
	uint32_t		 mask = IN_CLOSE_WRITE | IN_MOVED_TO |
				    IN_MOVED_FROM | IN_DELETE | IN_CREATE;

	ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (ifd != -1 && (inotify_add_watch(ifd, op->d.pending_path, mask) ==
	    -1 || inotify_add_watch(ifd, op->d.responses_path, mask) == -1)) {
		(void)close(ifd);
		ifd = -1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (!quit) {
		items = sv_op_items(op, &n);
		for (j = 0; j < nseen; j++)
			seen[j].present = 0;
		for (i = 0; i < n && !quit; i++) {
			for (j = 0; j < nseen; j++)
				if (strcmp(seen[j].id, items[i].id) == 0)
					break;
			if (j == nseen) {
				void *p = realloc(seen, (nseen + 1) *
				    sizeof(*seen));

				if (p == NULL)
					break;
				seen = p;
				memset(&seen[nseen], 0, sizeof(*seen));
				cm_strlcpy(seen[nseen].id, items[i].id,
				    sizeof(seen[nseen].id));
				nseen++;
				sv_watch_print(op, &items[i]);
				if (tty && strcmp(items[i].state,
				    "pending") == 0)
					quit = sv_watch_prompt(op, &items[i]);
			}
			seen[j].present = 1;
			if (strcmp(items[i].state, "expired") == 0 &&
			    !seen[j].expired) {
				seen[j].expired = 1;
				printf("expired: %s\n", items[i].id);
			}
		}
		sv_op_items_free(items, n);
		/* Gone from pending/: decided here or elsewhere, or expired. */
		for (j = 0; j < nseen && !quit; j++) {
			if (seen[j].present || seen[j].id[0] == '\0')
				continue;
			if (sv_op_decided(op, seen[j].id, text, sizeof(text),
			    &archived))
				printf("decided: %s %s\n", seen[j].id, text);
			else
				printf("gone: %s\n", seen[j].id);
			seen[j].id[0] = '\0';
		}
		if (quit)
			break;
		pfd.fd = ifd;
		pfd.events = POLLIN;
		if (ifd != -1) {
			if (poll(&pfd, 1, SV_WATCH_POLL_MS) > 0)
				while (read(ifd, buf, sizeof(buf)) > 0)
					;
		} else
			(void)poll(NULL, 0, SV_WATCH_POLL_MS);
	}
	free(seen);
	if (ifd != -1)
		(void)close(ifd);
	return (SV_EXIT_OK);
}
