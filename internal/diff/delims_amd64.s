#include "textflag.h"

// func delimMasks512(p *byte, n int, delim byte) (lo, hi uint64)
// The delimiter masks of the n <= 128 bytes at p: bit i of lo (of hi) set when byte i
// (64+i) is delim. Masked loads: nothing is read past p[n-1].
TEXT ·delimMasks512(SB), NOSPLIT, $0-40
	MOVQ    p+0(FP), AX
	MOVQ    n+8(FP), CX
	MOVBLZX delim+16(FP), DX
	VPBROADCASTB DX, Z2
	MOVQ    $-1, BX
	BZHIQ   CX, BX, BX // the low n bits (all of them when n >= 64)
	KMOVQ   BX, K1
	VMOVDQU8.Z (AX), K1, Z0
	VPCMPEQB Z2, Z0, K1, K2
	KMOVQ   K2, DI
	MOVQ    DI, lo+24(FP)
	XORQ    DI, DI
	SUBQ    $64, CX
	JLE     done
	MOVQ    $-1, BX
	BZHIQ   CX, BX, BX
	KMOVQ   BX, K3
	VMOVDQU8.Z 64(AX), K3, Z1
	VPCMPEQB Z2, Z1, K3, K4
	KMOVQ   K4, DI

done:
	MOVQ    DI, hi+32(FP)
	VZEROUPPER
	RET

// func delimMasksAVX2(p *byte, delim byte) (lo, hi uint64)
// The delimiter masks of the 128 bytes at p (all readable).
TEXT ·delimMasksAVX2(SB), NOSPLIT, $0-32
	MOVQ    p+0(FP), SI
	MOVBLZX delim+8(FP), AX
	MOVQ    AX, X0
	VPBROADCASTB X0, Y0
	VPCMPEQB (SI), Y0, Y1
	VPCMPEQB 32(SI), Y0, Y2
	VPCMPEQB 64(SI), Y0, Y3
	VPCMPEQB 96(SI), Y0, Y4
	VPMOVMSKB Y1, AX
	VPMOVMSKB Y2, BX
	VPMOVMSKB Y3, CX
	VPMOVMSKB Y4, DX
	SHLQ    $32, BX
	ORQ     BX, AX
	SHLQ    $32, DX
	ORQ     DX, CX
	MOVQ    AX, lo+16(FP)
	MOVQ    CX, hi+24(FP)
	VZEROUPPER
	RET
