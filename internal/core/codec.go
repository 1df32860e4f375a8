package core

import (
	"encoding/binary"
	"encoding/json"
)

func jsonUnmarshal(raw []byte, v any) error { return json.Unmarshal(raw, v) }

func beUint64(b []byte) uint64 { return binary.BigEndian.Uint64(b) }
