package config

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// decodeYAML fills cfg from a YAML document. It walks the node tree beside
// the struct by reflection instead of calling Decode on the whole document,
// so every error names the full key path ("repos[1].checks[0]") and line,
// and an unknown key is refused with the keys that would have been valid
// (what Decoder.KnownFields(true) does, with better directions).
func decodeYAML(raw []byte, cfg *Config) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return fmt.Errorf("parse YAML: %w", err)
	}
	if len(doc.Content) == 0 {
		return nil // an empty file sets nothing
	}
	return decodeNode(doc.Content[0], reflect.ValueOf(cfg).Elem(), "")
}

var yamlUnmarshaler = reflect.TypeFor[yaml.Unmarshaler]()

func decodeNode(n *yaml.Node, v reflect.Value, path string) error {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return nil // "key:" with no value keeps the default
	}
	where := func() string { return fmt.Sprintf("%s (line %d)", displayPath(path), n.Line) }
	if reflect.PointerTo(v.Type()).Implements(yamlUnmarshaler) {
		if err := n.Decode(v.Addr().Interface()); err != nil {
			return &FieldError{Key: where(), Msg: err.Error()}
		}
		return nil
	}
	switch v.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return &FieldError{Key: where(), Msg: "expected a mapping of keys (valid keys: " + strings.Join(yamlKeys(v.Type()), ", ") + ")"}
		}
		return decodeMapping(n, v, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return &FieldError{Key: where(), Msg: "expected a list (lines starting with \"- \")"}
		}
		out := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			if err := decodeNode(item, out.Index(i), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		v.Set(out) // a list in the file replaces the default list
		return nil
	case reflect.Map: // string keys (repos[].operations): the names are the operator's
		if n.Kind != yaml.MappingNode {
			return &FieldError{Key: where(), Msg: "expected a mapping of names to values (name: value)"}
		}
		out := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			keyNode, valNode := n.Content[i], n.Content[i+1]
			keyPath := joinPath(path, keyNode.Value)
			if keyNode.Kind != yaml.ScalarNode || keyNode.Value == "<<" {
				return &FieldError{Key: fmt.Sprintf("%s (line %d)", displayPath(path), keyNode.Line), Msg: "expected a plain name as the key"}
			}
			if line, dup := seen[keyNode.Value]; dup {
				return &FieldError{Key: fmt.Sprintf("%s (line %d)", keyPath, keyNode.Line), Msg: fmt.Sprintf("set twice (first on line %d)", line)}
			}
			seen[keyNode.Value] = keyNode.Line
			elem := reflect.New(v.Type().Elem()).Elem()
			if err := decodeNode(valNode, elem, keyPath); err != nil {
				return err
			}
			out.SetMapIndex(reflect.ValueOf(keyNode.Value).Convert(v.Type().Key()), elem)
		}
		v.Set(out)
		return nil
	default:
		if n.Kind != yaml.ScalarNode {
			return &FieldError{Key: where(), Msg: "expected a single value, not a list or mapping"}
		}
		if err := n.Decode(v.Addr().Interface()); err != nil {
			return &FieldError{Key: where(), Msg: fmt.Sprintf("%q is not %s", n.Value, kindWord(v.Kind()))}
		}
		return nil
	}
}

func decodeMapping(n *yaml.Node, v reflect.Value, path string) error {
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		keyNode, valNode := n.Content[i], n.Content[i+1]
		key := keyNode.Value
		keyPath := joinPath(path, key)
		if key == "<<" {
			return &FieldError{Key: fmt.Sprintf("%s (line %d)", displayPath(path), keyNode.Line), Msg: "merge keys (<<) are not supported; write the keys out"}
		}
		if line, dup := seen[key]; dup {
			return &FieldError{Key: fmt.Sprintf("%s (line %d)", keyPath, keyNode.Line), Msg: fmt.Sprintf("set twice (first on line %d)", line)}
		}
		seen[key] = keyNode.Line
		field, ok := fieldByYAMLKey(v, key)
		if !ok {
			return &FieldError{Key: fmt.Sprintf("%s (line %d)", keyPath, keyNode.Line),
				Msg: "unknown key (valid keys here: " + strings.Join(yamlKeys(v.Type()), ", ") + ")"}
		}
		if err := decodeNode(valNode, field, keyPath); err != nil {
			return err
		}
	}
	return nil
}

// yamlKey is a struct field's key: its yaml tag's name part.
func yamlKey(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return name
}

func fieldByYAMLKey(v reflect.Value, key string) (reflect.Value, bool) {
	for i := range v.NumField() {
		if f := v.Type().Field(i); f.IsExported() && yamlKey(f) == key && key != "" && key != "-" {
			return v.Field(i), true
		}
	}
	return reflect.Value{}, false
}

func yamlKeys(t reflect.Type) []string {
	var keys []string
	for i := range t.NumField() {
		if k := yamlKey(t.Field(i)); k != "" && k != "-" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func displayPath(path string) string {
	if path == "" {
		return "the top level"
	}
	return path
}

func kindWord(k reflect.Kind) string {
	switch k {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Bool:
		return "true or false"
	default:
		return "text"
	}
}
