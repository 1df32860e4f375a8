package core

import (
	"bytes"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/patchgit/patchgit/internal/store"
)

// Keys: proposals and jobs by id; messages by conversation id + NUL +
// 8-byte seq, so one conversation's messages are one ordered range.

func getProposal(tx *bolt.Tx, id string) (*Proposal, error) {
	var p Proposal
	ok, err := store.GetJSON(tx, store.BucketProposals, []byte(id), &p)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("proposal %q: %w", id, ErrNotFound)
	}
	return &p, nil
}

func putProposal(tx *bolt.Tx, p *Proposal) error {
	return store.PutJSON(tx, store.BucketProposals, []byte(p.ID), p)
}

func getJob(tx *bolt.Tx, id string) (*Job, error) {
	var j Job
	ok, err := store.GetJSON(tx, store.BucketJobs, []byte(id), &j)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("job %q: %w", id, ErrNotFound)
	}
	return &j, nil
}

func putJob(tx *bolt.Tx, j *Job) error {
	return store.PutJSON(tx, store.BucketJobs, []byte(j.ID), j)
}

func getConversation(tx *bolt.Tx, id string) (*Conversation, error) {
	var cv Conversation
	ok, err := store.GetJSON(tx, store.BucketConversations, []byte(id), &cv)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("conversation %q: %w", id, ErrNotFound)
	}
	return &cv, nil
}

func putConversation(tx *bolt.Tx, cv *Conversation) error {
	return store.PutJSON(tx, store.BucketConversations, []byte(cv.ID), cv)
}

func messagePrefix(conversationID string) []byte {
	return append([]byte(conversationID), 0)
}

func listMessages(tx *bolt.Tx, conversationID string) ([]Message, error) {
	var out []Message
	prefix := messagePrefix(conversationID)
	c := tx.Bucket(store.BucketMessages).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		var m Message
		if err := json.Unmarshal(v, &m); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// appendMessage stores m as the conversation's next message.
func (c *Core) appendMessage(tx *bolt.Tx, m *Message) error {
	cv, err := getConversation(tx, m.ConversationID)
	if err != nil {
		return err
	}
	prefix := messagePrefix(m.ConversationID)
	seq := 1
	cur := tx.Bucket(store.BucketMessages).Cursor()
	// The last key with this prefix: seek past the prefix range, step back.
	k, _ := cur.Seek(append(append([]byte{}, prefix...), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff))
	if k == nil {
		k, _ = cur.Last()
	} else {
		k, _ = cur.Prev()
	}
	if k != nil && bytes.HasPrefix(k, prefix) && len(k) == len(prefix)+8 {
		seq = int(beUint64(k[len(prefix):])) + 1
	}
	m.Seq = seq
	if m.ID == "" {
		m.ID = newID()
	}
	if m.Time.IsZero() {
		m.Time = c.now()
	}
	key := append(append([]byte{}, prefix...), store.U64(uint64(seq))...)
	if err := store.PutJSON(tx, store.BucketMessages, key, m); err != nil {
		return err
	}
	cv.Updated = m.Time
	return putConversation(tx, cv)
}
