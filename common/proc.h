/* The standard process_* metrics, read from /proc at scrape time. */
#ifndef CM_PROC_H
#define CM_PROC_H

struct evbuffer;

void	 cm_proc_metrics_write(struct evbuffer *out);
/* VmRSS in bytes, or 0 when /proc is unreadable. */
long long cm_proc_rss_bytes(void);

#endif /* CM_PROC_H */
