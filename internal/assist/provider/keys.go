package provider

import (
	"fmt"
	"os"
	"strings"
)

// maxKeyBytes bounds a key file: keys are short; a big file is a wrong path.
const maxKeyBytes = 4096

// loadKey reads the key from the environment variable or the file the
// options name; "" when neither is set (a local server needs none). Errors
// name the variable or the file, never the key.
func loadKey(o Options) (string, error) {
	if o.KeyEnv != "" && o.KeyFile != "" {
		return "", fmt.Errorf("%w: provider %q: set api_key_env or api_key_file, not both", ErrKey, o.Name)
	}
	if o.KeyEnv != "" {
		getenv := o.Getenv
		if getenv == nil {
			getenv = os.LookupEnv
		}
		v, ok := getenv(o.KeyEnv)
		if !ok || strings.TrimSpace(v) == "" {
			return "", fmt.Errorf("%w: provider %q: environment variable %s is not set; export it or use api_key_file", ErrKey, o.Name, o.KeyEnv)
		}
		return strings.TrimSpace(v), nil
	}
	if o.KeyFile == "" {
		return "", nil
	}
	f, err := os.Open(o.KeyFile)
	if err != nil {
		return "", fmt.Errorf("%w: provider %q: %v", ErrKey, o.Name, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("%w: provider %q: %v", ErrKey, o.Name, err)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return "", fmt.Errorf("%w: provider %q: %s is readable by others (mode %04o); run chmod 600 %s", ErrKey, o.Name, o.KeyFile, perm, o.KeyFile)
	}
	if info.Size() > maxKeyBytes {
		return "", fmt.Errorf("%w: provider %q: %s is %d bytes, too big for a key; check api_key_file", ErrKey, o.Name, o.KeyFile, info.Size())
	}
	buf := make([]byte, maxKeyBytes+1)
	n, _ := f.Read(buf)
	key := strings.TrimSpace(string(buf[:n]))
	if key == "" || strings.ContainsAny(key, "\n\r") {
		return "", fmt.Errorf("%w: provider %q: %s must hold the key alone on one line", ErrKey, o.Name, o.KeyFile)
	}
	return key, nil
}
