package rpc

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/patchgit/patchgit/internal/core"
)

// method describes one remotely callable method of an interface: the
// dispatcher is built from core.Service and core.Admin by reflection, so a
// new method needs no server code.
type method struct {
	name   string
	iface  reflect.Type // core.Service or core.Admin
	index  int          // in iface's method set
	params []reflect.Type
	result reflect.Type // nil when the method returns only an error
	stream bool         // result is a receive channel: answered by events
	admin  bool
}

var (
	contextType = reflect.TypeFor[context.Context]()
	errorType   = reflect.TypeFor[error]()
)

// methodTable is computed once; its error means an interface grew a method
// whose shape the protocol cannot carry.
var methodTable = sync.OnceValues(func() (map[string]*method, error) {
	table := map[string]*method{}
	for _, it := range []struct {
		t     reflect.Type
		admin bool
	}{{reflect.TypeFor[core.Service](), false}, {reflect.TypeFor[core.Admin](), true}} {
		for i := range it.t.NumMethod() {
			m, err := describe(it.t, i, it.admin)
			if err != nil {
				return nil, err
			}
			if _, dup := table[m.name]; dup {
				return nil, fmt.Errorf("build rpc method table: %s is in both core.Service and core.Admin", m.name)
			}
			table[m.name] = m
		}
	}
	return table, nil
})

func describe(iface reflect.Type, i int, admin bool) (*method, error) {
	rm := iface.Method(i)
	t := rm.Type
	bad := func(why string) error {
		return fmt.Errorf("build rpc method table: %s.%s %s: %s", iface, rm.Name, t, why)
	}
	if t.NumIn() == 0 || t.In(0) != contextType {
		return nil, bad("the first parameter must be a context.Context")
	}
	if t.IsVariadic() {
		return nil, bad("variadic methods are not supported")
	}
	m := &method{name: rm.Name, iface: iface, index: i, admin: admin}
	for j := 1; j < t.NumIn(); j++ {
		m.params = append(m.params, t.In(j))
	}
	switch {
	case t.NumOut() == 1 && t.Out(0) == errorType:
	case t.NumOut() == 2 && t.Out(1) == errorType:
		m.result = t.Out(0)
		if m.result.Kind() == reflect.Chan {
			if m.result.ChanDir() != reflect.RecvDir {
				return nil, bad("a streamed result must be a receive-only channel")
			}
			m.stream = true
		}
	default:
		return nil, bad("results must be (error) or (T, error)")
	}
	return m, nil
}

// decodeParams turns the positional JSON params into argument values. It
// decodes straight into the typed arguments (one scan of a large patch
// instead of three) and only on failure looks for which param was wrong.
func (m *method) decodeParams(raw json.RawMessage) ([]reflect.Value, error) {
	args := make([]reflect.Value, len(m.params))
	targets := make([]any, len(m.params))
	for i, p := range m.params {
		args[i] = reflect.New(p)
		targets[i] = args[i].Interface()
	}
	if len(raw) == 0 {
		raw = json.RawMessage("[]") // params may be left out
	}
	decoded := targets
	if err := json.Unmarshal(raw, &decoded); err != nil {
		return nil, m.explainParams(raw)
	}
	if len(decoded) != len(targets) { // the array was shorter or longer
		return nil, m.countError(len(decoded))
	}
	for i := range args {
		args[i] = args[i].Elem()
	}
	return args, nil
}

// explainParams finds what is wrong with params that did not decode.
func (m *method) explainParams(raw json.RawMessage) error {
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return fmt.Errorf("decode params of %s: want a JSON array: %w", m.name, ErrBadRequest)
	}
	if len(list) != len(m.params) {
		return m.countError(len(list))
	}
	for i, p := range list {
		// The JSON error names the type, never the value (a PIN must not
		// end up in a message).
		if err := json.Unmarshal(p, reflect.New(m.params[i]).Interface()); err != nil {
			return fmt.Errorf("decode param %d of %s: want %s: %w", i+1, m.name, m.params[i], ErrBadRequest)
		}
	}
	return fmt.Errorf("decode params of %s: %w", m.name, ErrBadRequest)
}

func (m *method) countError(got int) error {
	return fmt.Errorf("decode params of %s: want %d (%s), got %d: %w",
		m.name, len(m.params), m.signature(), got, ErrBadRequest)
}

func (m *method) signature() string {
	names := make([]string, len(m.params))
	for i, p := range m.params {
		names[i] = p.String()
	}
	return strings.Join(names, ", ")
}

// call runs the method on recv (a value of m.iface) and returns its result
// (the zero Value when there is none) and error.
func (m *method) call(ctx context.Context, recv reflect.Value, args []reflect.Value) (reflect.Value, error) {
	in := append([]reflect.Value{reflect.ValueOf(ctx)}, args...)
	out := recv.Method(m.index).Call(in)
	errV := out[len(out)-1]
	var err error
	if !errV.IsNil() {
		err = errV.Interface().(error)
	}
	if m.result == nil {
		return reflect.Value{}, err
	}
	return out[0], err
}
