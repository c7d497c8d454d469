package server

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"time"

	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/store"
)

// cursorCodec makes the opaque RFC 9865 cursors: the keyset position (created, id) of the
// last resource of a page, with the tenant, signed with HMAC-SHA256 under a key shared by
// every replica (kept in the database). A forged or foreign cursor is 400 invalidCursor.
type cursorCodec struct{ key []byte }

func newCursorKey() []byte {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		panic(err)
	}
	return k
}

const macLen = 16

func (c *cursorCodec) mac(tenantID, resourceType string, payload []byte) []byte {
	h := hmac.New(sha256.New, c.key)
	h.Write([]byte(tenantID))
	h.Write([]byte{0})
	h.Write([]byte(resourceType))
	h.Write([]byte{0})
	h.Write(payload)
	return h.Sum(nil)[:macLen]
}

// encode returns the cursor for the position after cur.
func (c *cursorCodec) encode(tenantID, resourceType string, cur store.Cursor) string {
	payload := binary.BigEndian.AppendUint64(nil, uint64(cur.Created.UnixNano()))
	payload = append(payload, cur.ID...)
	return base64.RawURLEncoding.EncodeToString(append(payload, c.mac(tenantID, resourceType, payload)...))
}

// decode checks and reads a cursor.
func (c *cursorCodec) decode(tenantID, resourceType, s string) (store.Cursor, error) {
	bad := scim.BadRequest(scim.InvalidCursor, "the cursor is not valid; start again without one")
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(raw) < 8+macLen || len(raw) > 8+64+macLen {
		return store.Cursor{}, bad
	}
	payload, sum := raw[:len(raw)-macLen], raw[len(raw)-macLen:]
	if !hmac.Equal(sum, c.mac(tenantID, resourceType, payload)) {
		return store.Cursor{}, bad
	}
	return store.Cursor{Created: time.Unix(0, int64(binary.BigEndian.Uint64(payload[:8]))).UTC(), ID: string(payload[8:])}, nil
}
