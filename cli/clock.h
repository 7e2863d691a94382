/*
 * clock.h - elapsed time for the commands' reports (samples per second,
 * seconds so far). Timing never feeds back into what a run computes.
 */
#ifndef BP_CLI_CLOCK_H
#define BP_CLI_CLOCK_H

/* Seconds on a monotonic clock, for rates and elapsed times. */
double cli_now(void);

#endif
