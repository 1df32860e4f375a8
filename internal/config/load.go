package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// FileName is the config file's name inside the data directory.
const FileName = "patchgit.yaml"

// Load builds the configuration: defaults, then the YAML file at path, then
// PATCHGIT_* variables from env, then Validate. An empty path means
// <data dir>/patchgit.yaml, with the data dir from defaults and env. A
// missing file is fine unless explicit (the person passed --config).
func Load(path string, explicit bool, env []string) (Config, error) {
	cfg := defaults(lookupIn(env))
	// The environment goes on before the file too, so PATCHGIT_DATA_DIR
	// decides where the default file is; it goes on again afterwards to
	// override the file.
	if err := applyEnv(&cfg, env); err != nil {
		return Config{}, fmt.Errorf("read environment: %w", err)
	}
	if path == "" {
		path = filepath.Join(expandHome(cfg.DataDir), FileName)
	}
	raw, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist) && !explicit:
		// no file: defaults and environment only
	case errors.Is(err, os.ErrNotExist):
		return Config{}, fmt.Errorf("load config: %w: %s does not exist; create it or drop --config", ErrMissingFile, path)
	case err != nil:
		return Config{}, fmt.Errorf("load config: %w", err)
	default:
		if err := decodeYAML(raw, &cfg); err != nil {
			return Config{}, fmt.Errorf("load config %s: %w", path, err)
		}
		if err := applyEnv(&cfg, env); err != nil {
			return Config{}, fmt.Errorf("read environment: %w", err)
		}
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, fmt.Errorf("check config: %w", err)
	}
	return cfg, nil
}
