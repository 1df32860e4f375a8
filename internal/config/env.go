package config

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// EnvPrefix starts every environment variable PatchGit reads.
const EnvPrefix = "PATCHGIT_"

// EnvVar pairs an environment variable with the YAML key it sets.
type EnvVar struct {
	Name string // PATCHGIT_SSH_ADDR
	Key  string // ssh.addr
}

// EnvVars lists every settable variable, derived from Config's yaml tags.
func EnvVars() []EnvVar {
	var out []EnvVar
	walkEnvFields(reflect.ValueOf(&Config{}).Elem(), "", func(key string, _ reflect.Value) {
		out = append(out, EnvVar{Name: envName(key), Key: key})
	})
	return out
}

// envName maps a key path to its variable: ssh.addr -> PATCHGIT_SSH_ADDR.
func envName(key string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

// walkEnvFields calls visit for every leaf field reachable through structs.
// Lists are skipped: they are too structured for one variable.
func walkEnvFields(v reflect.Value, path string, visit func(key string, field reflect.Value)) {
	for i := range v.NumField() {
		f := v.Type().Field(i)
		key := yamlKey(f)
		if !f.IsExported() || key == "" || key == "-" {
			continue
		}
		field, keyPath := v.Field(i), joinPath(path, key)
		switch {
		case reflect.PointerTo(field.Type()).Implements(textUnmarshaler):
			visit(keyPath, field)
		case field.Kind() == reflect.Struct:
			walkEnvFields(field, keyPath, visit)
		case field.Kind() == reflect.Slice || field.Kind() == reflect.Map || field.Kind() == reflect.Pointer:
			// not settable from the environment (an optional section: file only)
		default:
			visit(keyPath, field)
		}
	}
}

// applyEnv sets fields from PATCHGIT_* variables in env ("NAME=value"; the
// last one wins, as in a shell). An empty value counts as unset.
func applyEnv(cfg *Config, env []string) error {
	vals := envMap(env)
	var errs []error
	walkEnvFields(reflect.ValueOf(cfg).Elem(), "", func(key string, field reflect.Value) {
		name := envName(key)
		raw := vals[name]
		if raw == "" {
			return
		}
		if err := setFromString(field, raw); err != nil {
			errs = append(errs, &FieldError{Key: fmt.Sprintf("%s (sets %s)", name, key), Msg: err.Error()})
		}
	})
	return errors.Join(errs...)
}

func envMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

func lookupIn(env []string) func(string) (string, bool) {
	m := envMap(env)
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func setFromString(field reflect.Value, raw string) error {
	if u, ok := field.Addr().Interface().(encoding.TextUnmarshaler); ok {
		return u.UnmarshalText([]byte(raw))
	}
	switch field.Kind() {
	case reflect.String:
		field.SetString(raw)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(raw, 10, field.Type().Bits())
		if err != nil {
			return fmt.Errorf("%q is not a whole number", raw)
		}
		field.SetInt(n)
	case reflect.Float64:
		f, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			return fmt.Errorf("%q is not a number like 0.02", raw)
		}
		field.SetFloat(f)
	case reflect.Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return fmt.Errorf("%q is not true or false", raw)
		}
		field.SetBool(b)
	default:
		// A new field kind needs a case here; fail loudly in tests.
		panic("config: field kind " + field.Kind().String() + " is not settable from the environment")
	}
	return nil
}
