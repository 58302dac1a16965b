/* MPS2-AN386 board support: reset handler, vector table, CMSDK UART0, semihosting exit.
 * Memory map (as in firmware/memory/mps2-an386.x): code at 0x0000_0000 (4 MiB SSRAM1, the
 * "flash"), RAM at 0x2000_0000 (4 MiB). */
#include "board.h"

#include <stddef.h>

extern uint32_t _sidata[], _sdata[], _edata[], _sbss[], _ebss[], _estack[];
int main(void);

#define UART0 0x40004000u
#define REG(off) (*(volatile uint32_t *)(UART0 + (off)))
#define UART_DATA REG(0x00)
#define UART_STATE REG(0x04)
#define UART_CTRL REG(0x08)
#define UART_BAUDDIV REG(0x10)
#define CPACR (*(volatile uint32_t *)0xE000ED88u)

void uart_init(void) {
    UART_BAUDDIV = 25000000u / 115200u;
    UART_CTRL = 1u; /* TX enable */
}

static void uart_putc(char c) {
    while (UART_STATE & 1u) {
    }
    UART_DATA = (uint32_t)(uint8_t)c;
}

void uart_puts(const char *s) {
    while (*s) uart_putc(*s++);
}

void uart_putu64(uint64_t v) {
    char buf[21];
    int i = 20;
    buf[i] = 0;
    do {
        buf[--i] = (char)('0' + (int)(v % 10u));
        v /= 10u;
    } while (v);
    uart_puts(&buf[i]);
}

void uart_putu(uint32_t v) { uart_putu64(v); }

/* Semihosting SYS_EXIT (0x18) with ADP_Stopped_ApplicationExit (0x20026) or
 * ADP_Stopped_RunTimeErrorUnknown (0x20023): QEMU exits with status 0 or 1. */
void board_exit(int code) {
    register uint32_t r0 __asm__("r0") = 0x18u;
    register uint32_t r1 __asm__("r1") = code == 0 ? 0x20026u : 0x20023u;
    __asm__ volatile("bkpt 0xab" : : "r"(r0), "r"(r1) : "memory");
    for (;;) {
    }
}

void Reset_Handler(void) {
    for (uint32_t *s = _sidata, *d = _sdata; d < _edata;) *d++ = *s++;
    for (uint32_t *d = _sbss; d < _ebss;) *d++ = 0;
#if defined(__ARM_FP)
    CPACR |= 0xFu << 20; /* CP10/CP11 full access: the hard-float library may use the FPU */
    __asm__ volatile("dsb\n isb");
#endif
    board_exit(main());
}

static void Fault_Handler(void) {
    uart_puts("# error: fault\n");
    board_exit(1);
}

__attribute__((section(".isr_vector"), used)) static void (*const vectors[16])(void) = {
    (void (*)(void))_estack, Reset_Handler, Fault_Handler, Fault_Handler, Fault_Handler,
    Fault_Handler,           Fault_Handler, 0,             0,             0,
    0,                       Fault_Handler, Fault_Handler, 0,             Fault_Handler,
    Fault_Handler,
};
