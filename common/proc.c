#include "config.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "common/proc.h"

static long long
cm_proc_status_kb(const char *key)
{
	FILE		*fp;
	char		 line[256];
	long long	 v = 0;
	size_t		 kl = strlen(key);

	if ((fp = fopen("/proc/self/status", "r")) == NULL)
		return (0);
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
			(void)sscanf(line + kl + 1, "%lld", &v);
			break;
		}
	fclose(fp);
	return (v);
}

long long
cm_proc_rss_bytes(void)
{
	return (cm_proc_status_kb("VmRSS") * 1024);
}

static long
cm_proc_open_fds(void)
{
	DIR		*d;
	struct dirent	*de;
	long		 n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return (0);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return (n > 0 ? n - 1 : 0);	/* not the one opendir holds */
}

static double
cm_proc_start_time(void)
{
	static double	 start;
	struct timespec	 now, mono;
	FILE		*fp;
	char		 buf[1024], *p;
	unsigned long long ticks = 0;
	int		 i;

	if (start != 0)
		return (start);
	if ((fp = fopen("/proc/self/stat", "r")) == NULL)
		return (0);
	if (fgets(buf, sizeof(buf), fp) == NULL) {
		fclose(fp);
		return (0);
	}
	fclose(fp);
	/* Field 22 (starttime) counts from the closing paren of comm. */
	if ((p = strrchr(buf, ')')) == NULL)
		return (0);
	for (i = 0; i < 20 && p != NULL; i++)
		p = strchr(p + 1, ' ');
	if (p == NULL || sscanf(p + 1, "%llu", &ticks) != 1)
		return (0);
	clock_gettime(CLOCK_REALTIME, &now);
	clock_gettime(CLOCK_BOOTTIME, &mono);
	start = (double)now.tv_sec + now.tv_nsec / 1e9 -
	    ((double)mono.tv_sec + mono.tv_nsec / 1e9) +
	    (double)ticks / (double)sysconf(_SC_CLK_TCK);
	return (start);
}

void
cm_proc_metrics_write(struct evbuffer *out)
{
	struct rusage	 ru;
	struct rlimit	 rl;
	double		 cpu = 0;

	if (getrusage(RUSAGE_SELF, &ru) == 0)
		cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
		    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	evbuffer_add_printf(out,
	    "# HELP process_cpu_seconds_total Total user and system CPU time.\n"
	    "# TYPE process_cpu_seconds_total counter\n"
	    "process_cpu_seconds_total %.3f\n"
	    "# HELP process_resident_memory_bytes Resident memory size.\n"
	    "# TYPE process_resident_memory_bytes gauge\n"
	    "process_resident_memory_bytes %lld\n"
	    "# HELP process_virtual_memory_bytes Virtual memory size.\n"
	    "# TYPE process_virtual_memory_bytes gauge\n"
	    "process_virtual_memory_bytes %lld\n"
	    "# HELP process_open_fds Open file descriptors.\n"
	    "# TYPE process_open_fds gauge\n"
	    "process_open_fds %ld\n",
	    cpu, cm_proc_rss_bytes(), cm_proc_status_kb("VmSize") * 1024,
	    cm_proc_open_fds());
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		evbuffer_add_printf(out,
		    "# HELP process_max_fds Maximum open file descriptors.\n"
		    "# TYPE process_max_fds gauge\n"
		    "process_max_fds %llu\n", (unsigned long long)rl.rlim_cur);
	evbuffer_add_printf(out,
	    "# HELP process_start_time_seconds Start time since the epoch.\n"
	    "# TYPE process_start_time_seconds gauge\n"
	    "process_start_time_seconds %.3f\n", cm_proc_start_time());
}
