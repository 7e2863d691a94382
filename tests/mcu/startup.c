/*
 * startup.c - the two words a Cortex-M needs at address 0 (the initial stack
 * pointer and the reset handler), for tests/mcu-test.sh's program under QEMU.
 * The reset handler hands over to newlib's _start (crt0 with semihosting:
 * .bss cleared, main called, its return value passed to exit, which QEMU turns
 * into its own exit status).
 */
extern void _start(void);
extern char __stack_top[];

void reset_handler(void);

void reset_handler(void) { _start(); }

__attribute__((section(".vectors"), used)) static void *const vectors[2] = {__stack_top, (void *)reset_handler};
