/* `bb-sidecar health` (bundle.md §3): asks the control port, then
 * TCP-connects to each listener it reports. */
#ifndef CM_HEALTH_H
#define CM_HEALTH_H

int	 cm_health_main(int argc, char **argv);

#endif /* CM_HEALTH_H */
