package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
)

// envMaskKey holds the mask key when --mask-key-file is not given.
const envMaskKey = "CLEARHOUSE_MASK_KEY"

const maskKeyHelp = "file holding the key sensitive values are masked with (HMAC-SHA256), so that masks are the same from run to run; default $" +
	envMaskKey + ", else a key drawn for the run. Make one with: head -c 32 /dev/urandom | base64 > FILE"

// maskKey reads the mask key from the file named by --mask-key-file, else from
// $CLEARHOUSE_MASK_KEY; nil when neither is set (or the variable is empty). Surrounding white space (a final
// newline) is not part of the key.
func maskKey(file string) ([]byte, error) {
	var text, from string
	switch {
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("--mask-key-file: %w", err)
		}
		text, from = string(b), "--mask-key-file "+file
	default:
		v := os.Getenv(envMaskKey)
		if strings.TrimSpace(v) == "" {
			return nil, nil // unset, or exported empty: no key
		}
		text, from = v, "$"+envMaskKey
	}
	key := []byte(strings.TrimSpace(text))
	if len(key) < diff.MaskKeySize {
		return nil, fmt.Errorf("%s: the mask key has %d bytes; want at least %d (head -c 32 /dev/urandom | base64 makes one)", from, len(key), diff.MaskKeySize)
	}
	return key, nil
}
