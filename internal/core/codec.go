package core

import (
	"encoding/binary"
)

func beUint64(b []byte) uint64 { return binary.BigEndian.Uint64(b) }
