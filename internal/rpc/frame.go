package rpc

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
)

const (
	// ProtocolName is the "proto" of the server's greeting.
	ProtocolName = "patchgit-rpc"
	// ProtocolVersion is the version this package speaks.
	ProtocolVersion = 1
	// MaxFrameSize bounds one frame, newline excluded.
	MaxFrameSize = 8 << 20
)

// frame is every message of the protocol; which fields are set says what it
// is (see doc.go). IDs start at 1, so 0 means "not about a request".
type frame struct {
	// Handshake.
	Proto   string `json:"proto,omitempty"`
	Version int    `json:"version,omitempty"`
	Server  string `json:"server,omitempty"`
	Hello   *hello `json:"hello,omitempty"`
	Ready   bool   `json:"ready,omitempty"`

	// Requests, responses and streams.
	ID     uint64          `json:"id,omitempty"`
	Method string          `json:"method,omitempty"`
	Params json.RawMessage `json:"params,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  *RemoteError    `json:"error,omitempty"`
	Event  json.RawMessage `json:"event,omitempty"`
	End    bool            `json:"end,omitempty"`
	Cancel uint64          `json:"cancel,omitempty"`
}

type hello struct {
	Version int    `json:"version"`
	Client  string `json:"client,omitempty"`
}

// frameReader splits a stream into frames of at most MaxFrameSize bytes.
type frameReader struct {
	r   *bufio.Reader
	max int
}

func newFrameReader(r io.Reader, max int) *frameReader {
	return &frameReader{r: bufio.NewReaderSize(r, 64<<10), max: max}
}

// next returns the next non-empty frame. An oversize frame is an error that
// leaves the stream mid-line: the caller must give up on the connection.
func (fr *frameReader) next() (*frame, error) {
	for {
		line, err := fr.line()
		if err != nil {
			return nil, err
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		f := new(frame)
		if err := json.Unmarshal(line, f); err != nil {
			return nil, &malformedError{err: err}
		}
		return f, nil
	}
}

func (fr *frameReader) line() ([]byte, error) {
	var buf []byte
	for {
		chunk, err := fr.r.ReadSlice('\n')
		if len(buf)+len(bytes.TrimRight(chunk, "\r\n")) > fr.max {
			return nil, fmt.Errorf("read frame: more than %d bytes without a newline: %w", fr.max, ErrFrameTooLarge)
		}
		buf = append(buf, chunk...)
		switch {
		case err == nil:
			return buf, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(buf) > 0:
			return nil, io.ErrUnexpectedEOF
		default:
			return nil, err
		}
	}
}

// malformedError is a line that is not a JSON frame. The framing is still
// intact, so the connection can go on.
type malformedError struct{ err error }

func (e *malformedError) Error() string {
	return fmt.Sprintf("malformed frame (want one JSON object per line): %v", e.err)
}
func (e *malformedError) Unwrap() error { return ErrBadRequest }

// frameWriter writes whole frames under a mutex, so concurrent responses
// never interleave.
type frameWriter struct {
	mu  sync.Mutex
	w   io.Writer
	max int
}

// encode returns f as one line, or ErrFrameTooLarge (nothing is sent, so
// the connection stays usable). The raw payload (params, result or event,
// already encoded by marshal) is spliced in as is: re-encoding it would
// re-scan megabytes of patch for nothing.
func (fw *frameWriter) encode(f *frame) ([]byte, error) {
	head := *f
	key, raw := "", json.RawMessage(nil)
	switch {
	case f.Params != nil:
		key, raw, head.Params = "params", f.Params, nil
	case f.Result != nil:
		key, raw, head.Result = "result", f.Result, nil
	case f.Event != nil:
		key, raw, head.Event = "event", f.Event, nil
	}
	line, err := marshal(&head)
	if err != nil {
		return nil, fmt.Errorf("encode frame: %w", err)
	}
	if raw != nil {
		line = line[:len(line)-1] // drop the closing brace
		if len(line) > 1 {
			line = append(line, ',')
		}
		line = append(line, '"')
		line = append(line, key...)
		line = append(line, '"', ':')
		line = append(line, raw...)
		line = append(line, '}')
	}
	if len(line) > fw.max {
		return nil, &sizeError{size: len(line), max: fw.max}
	}
	return append(line, '\n'), nil
}

// marshal is json.Marshal without HTML escaping: diffs are full of < and >.
func marshal(v any) (json.RawMessage, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func (fw *frameWriter) write(f *frame) error {
	line, err := fw.encode(f)
	if err != nil {
		return err
	}
	fw.mu.Lock()
	defer fw.mu.Unlock()
	if _, err := fw.w.Write(line); err != nil {
		return fmt.Errorf("write frame: %w", err)
	}
	return nil
}

// sizeError is a frame too large to send.
type sizeError struct{ size, max int }

func (e *sizeError) Error() string {
	return fmt.Sprintf("%.1f MiB is over the %d MiB frame limit", float64(e.size)/(1<<20), e.max>>20)
}
func (e *sizeError) Unwrap() error { return ErrFrameTooLarge }
