/*
 * Reset-vector entry of the vmfwupdate guest agent.
 *
 * The CPU starts in real mode at 0xfffffff0 with CS base 0xffff0000, so the
 * 16-bit stub and the GDT must live in the top 64 KiB of the image.  The stub
 * loads a flat GDT (kept in ROM, accessed bits preset so the CPU never writes
 * to it), enables protected mode and jumps to 32-bit code, which sets up the
 * segments and the stack, copies .data from ROM to low RAM, zeroes .bss and
 * calls agent_main().
 */

#define CODE_SEL 0x08
#define DATA_SEL 0x10

	.code16
	.section .entry16, "ax"
	.globl entry16
entry16:
	cli
	cld
	/* 16-bit displacement of a 0xffffxxxx address: offset within CS. */
	lgdtl	%cs:gdt_desc
	movl	%cr0, %eax
	orl	$1, %eax
	movl	%eax, %cr0
	ljmpl	$CODE_SEL, $entry32

	.p2align 3
gdt:
	.quad	0
	/* base 0, limit 4 GiB, 32-bit, ring 0, execute/read, accessed */
	.quad	0x00cf9b000000ffff
	/* base 0, limit 4 GiB, 32-bit, ring 0, read/write, accessed */
	.quad	0x00cf93000000ffff
gdt_end:

gdt_desc:
	.word	gdt_end - gdt - 1
	.long	gdt

	.section .resetvec, "ax"
	.globl reset_vector
reset_vector:
	jmp	entry16

	.code32
	.section .text.start, "ax"
	.globl entry32
entry32:
	movw	$DATA_SEL, %ax
	movw	%ax, %ds
	movw	%ax, %es
	movw	%ax, %ss
	movw	%ax, %fs
	movw	%ax, %gs
	movl	$__stack_top, %esp

	/* copy .data from its load image in ROM to low RAM */
	movl	$__data_lma, %esi
	movl	$__data_start, %edi
	movl	$__data_end, %ecx
	subl	%edi, %ecx
	rep movsb

	/* zero .bss */
	xorl	%eax, %eax
	movl	$__bss_start, %edi
	movl	$__bss_end, %ecx
	subl	%edi, %ecx
	rep stosb

	call	agent_main
1:	cli
	hlt
	jmp	1b

	/*
	 * idle_wait() (idle.h): enable interrupts, halt until one arrives.
	 * The PIC handlers send the end of interrupt, drop the frame the CPU
	 * pushed (EIP, CS, EFLAGS: same privilege, no error code) and continue
	 * at idle_woken with IF still clear from the interrupt gate, instead of
	 * an iret: the PVM flavour of KVM cannot emulate iret in this unpaged
	 * guest ("KVM internal error. Suberror: 1"). Interrupts are enabled
	 * nowhere else, so a handler always interrupts this hlt.
	 */
	.globl idle_wait
idle_wait:
	sti
	hlt
idle_woken:
	cli
	ret

	.globl irq_master
irq_master:
	pushl	%eax
	movb	$0x20, %al
	outb	%al, $0x20
	popl	%eax
	addl	$12, %esp
	jmp	idle_woken

	.globl irq_slave
irq_slave:
	pushl	%eax
	movb	$0x20, %al
	outb	%al, $0xa0
	outb	%al, $0x20
	popl	%eax
	addl	$12, %esp
	jmp	idle_woken

	.section .note.GNU-stack, "", @progbits
