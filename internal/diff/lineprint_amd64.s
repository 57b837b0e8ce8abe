#include "textflag.h"

// aesLine (lineprint.go) for n bytes at p, 65 <= n <= 256; seeds holds hash a's eight
// 16-byte lane seeds, then hash b's. Up to 128 bytes: blocks 0-3 are p[0:64], blocks
// 4-7 p[n-64:n], each XORed with its lane seed and given three AES rounds (the state
// its own round key). Past 128 (the runtime's loop, once): the lanes start as the last
// 128 bytes XORed with the seeds, get a round, a round keyed by the first 128 bytes,
// then three more.

// func aesLineAVX512(p *byte, n int, seeds *byte) (a, b uint64)
// Four lanes a register: Z2, Z3 are hash a's blocks 0-3 and 4-7, Z4, Z5 hash b's.
TEXT ·aesLineAVX512(SB), NOSPLIT, $0-40
	MOVQ p+0(FP), AX
	MOVQ n+8(FP), CX
	MOVQ seeds+16(FP), DX
	CMPQ CX, $128
	JA   long512
	VMOVDQU64 (AX), Z0
	VMOVDQU64 -64(AX)(CX*1), Z1
	VPXORQ (DX), Z0, Z2
	VPXORQ 64(DX), Z1, Z3
	VPXORQ 128(DX), Z0, Z4
	VPXORQ 192(DX), Z1, Z5
	JMP  rounds512

long512:
	VMOVDQU64 -128(AX)(CX*1), Z0
	VMOVDQU64 -64(AX)(CX*1), Z1
	VPXORQ (DX), Z0, Z2
	VPXORQ 64(DX), Z1, Z3
	VPXORQ 128(DX), Z0, Z4
	VPXORQ 192(DX), Z1, Z5
	VAESENC Z2, Z2, Z2
	VAESENC Z3, Z3, Z3
	VAESENC Z4, Z4, Z4
	VAESENC Z5, Z5, Z5
	VMOVDQU64 (AX), Z0
	VMOVDQU64 64(AX), Z1
	VAESENC Z0, Z2, Z2
	VAESENC Z1, Z3, Z3
	VAESENC Z0, Z4, Z4
	VAESENC Z1, Z5, Z5

rounds512:
	// Three AES rounds each, the state its own round key.
	VAESENC Z2, Z2, Z2
	VAESENC Z3, Z3, Z3
	VAESENC Z4, Z4, Z4
	VAESENC Z5, Z5, Z5
	VAESENC Z2, Z2, Z2
	VAESENC Z3, Z3, Z3
	VAESENC Z4, Z4, Z4
	VAESENC Z5, Z5, Z5
	VAESENC Z2, Z2, Z2
	VAESENC Z3, Z3, Z3
	VAESENC Z4, Z4, Z4
	VAESENC Z5, Z5, Z5
	// A hash is the XOR of its eight lanes: of its two registers, then of their halves.
	VPXORQ Z3, Z2, Z2
	VPXORQ Z5, Z4, Z4
	VEXTRACTI64X4 $1, Z2, Y3
	VEXTRACTI64X4 $1, Z4, Y5
	VPXOR Y3, Y2, Y2
	VPXOR Y5, Y4, Y4
	VEXTRACTI128 $1, Y2, X3
	VEXTRACTI128 $1, Y4, X5
	VPXOR X3, X2, X2
	VPXOR X5, X4, X4
	VMOVQ X2, a+24(FP)
	VMOVQ X4, b+32(FP)
	VZEROUPPER
	RET

// SEEDED8 sets X0-X7 to the lane seeds at off(DX) XORed with the blocks in X8-X15.
#define SEEDED8(off) \
	MOVOU off+0(DX), X0; \
	MOVOU off+16(DX), X1; \
	MOVOU off+32(DX), X2; \
	MOVOU off+48(DX), X3; \
	MOVOU off+64(DX), X4; \
	MOVOU off+80(DX), X5; \
	MOVOU off+96(DX), X6; \
	MOVOU off+112(DX), X7; \
	PXOR X8, X0; \
	PXOR X9, X1; \
	PXOR X10, X2; \
	PXOR X11, X3; \
	PXOR X12, X4; \
	PXOR X13, X5; \
	PXOR X14, X6; \
	PXOR X15, X7

// LOAD8 loads the eight blocks at r into X8-X15.
#define LOAD8(r) \
	MOVOU 0(r), X8; \
	MOVOU 16(r), X9; \
	MOVOU 32(r), X10; \
	MOVOU 48(r), X11; \
	MOVOU 64(r), X12; \
	MOVOU 80(r), X13; \
	MOVOU 96(r), X14; \
	MOVOU 112(r), X15

// FIRSTKEYED8 gives X0-X7 a round, then a round keyed by the 128 bytes at AX (loaded
// into X8-X15: AESENC's memory operand must be aligned).
#define FIRSTKEYED8 \
	AESENC X0, X0; AESENC X1, X1; AESENC X2, X2; AESENC X3, X3; \
	AESENC X4, X4; AESENC X5, X5; AESENC X6, X6; AESENC X7, X7; \
	LOAD8(AX); \
	AESENC X8, X0; AESENC X9, X1; AESENC X10, X2; AESENC X11, X3; \
	AESENC X12, X4; AESENC X13, X5; AESENC X14, X6; AESENC X15, X7

// FINISH8 gives X0-X7 three AES rounds (the state its own round key) and leaves the XOR
// of the eight in X0.
#define FINISH8 \
	AESENC X0, X0; AESENC X1, X1; AESENC X2, X2; AESENC X3, X3; \
	AESENC X4, X4; AESENC X5, X5; AESENC X6, X6; AESENC X7, X7; \
	AESENC X0, X0; AESENC X1, X1; AESENC X2, X2; AESENC X3, X3; \
	AESENC X4, X4; AESENC X5, X5; AESENC X6, X6; AESENC X7, X7; \
	AESENC X0, X0; AESENC X1, X1; AESENC X2, X2; AESENC X3, X3; \
	AESENC X4, X4; AESENC X5, X5; AESENC X6, X6; AESENC X7, X7; \
	PXOR X1, X0; \
	PXOR X3, X2; \
	PXOR X5, X4; \
	PXOR X7, X6; \
	PXOR X2, X0; \
	PXOR X6, X4; \
	PXOR X4, X0

// func aesLineAESNI(p *byte, n int, seeds *byte) (a, b uint64)
// One lane an instruction. The blocks are in X8-X15 (X15, the ABI's zero register, is
// cleared before returning); each hash's lanes in X0-X7.
TEXT ·aesLineAESNI(SB), NOSPLIT, $0-40
	MOVQ p+0(FP), AX
	MOVQ n+8(FP), CX
	MOVQ seeds+16(FP), DX
	CMPQ CX, $128
	JA   longni
	LEAQ -64(AX)(CX*1), BX
	MOVOU (AX), X8
	MOVOU 16(AX), X9
	MOVOU 32(AX), X10
	MOVOU 48(AX), X11
	MOVOU (BX), X12
	MOVOU 16(BX), X13
	MOVOU 32(BX), X14
	MOVOU 48(BX), X15
	SEEDED8(0)
	FINISH8
	MOVQ X0, a+24(FP)
	SEEDED8(128)
	FINISH8
	MOVQ X0, b+32(FP)
	PXOR X15, X15
	RET

longni:
	// The last 128 bytes in X8-X15 for the seeds, the first for the keyed round, each
	// hash in turn.
	LEAQ -128(AX)(CX*1), BX
	LOAD8(BX)
	SEEDED8(0)
	FIRSTKEYED8
	FINISH8
	MOVQ X0, a+24(FP)
	LOAD8(BX)
	SEEDED8(128)
	FIRSTKEYED8
	FINISH8
	MOVQ X0, b+32(FP)
	PXOR X15, X15
	RET
