/* The few board services the example needs: UART0 output and leaving QEMU. */
#ifndef BOARD_H
#define BOARD_H
#include <stdint.h>

void uart_init(void);
void uart_puts(const char *s);
void uart_putu(uint32_t v);
void uart_putu64(uint64_t v);
/* Stops the emulator with `code` (semihosting SYS_EXIT); on a real board, parks the core. */
void board_exit(int code) __attribute__((noreturn));

#endif
