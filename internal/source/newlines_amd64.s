#include "textflag.h"

// func newlineMasksAVX2(p *byte, blocks int, masks *uint64)
// For each of blocks 64-byte blocks at p, a 64-bit mask at masks: a bit per byte that is
// '\n'.
TEXT ·newlineMasksAVX2(SB), NOSPLIT, $0-24
	MOVQ p+0(FP), SI
	MOVQ blocks+8(FP), CX
	MOVQ masks+16(FP), DI
	MOVQ $0x0a, AX
	MOVQ AX, X0
	VPBROADCASTB X0, Y0

loop:
	VPCMPEQB (SI), Y0, Y1
	VPCMPEQB 32(SI), Y0, Y2
	VPMOVMSKB Y1, AX
	VPMOVMSKB Y2, BX
	SHLQ $32, BX
	ORQ  BX, AX
	MOVQ AX, (DI)
	ADDQ $64, SI
	ADDQ $8, DI
	DECQ CX
	JNZ  loop

	VZEROUPPER
	RET
