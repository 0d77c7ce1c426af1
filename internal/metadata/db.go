package metadata

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/containerd/errdefs"
	bolt "go.etcd.io/bbolt"
)

// SchemaVersion is the current layout version of the file.
const SchemaVersion = 1

// Bucket names, one set per owning component.
const (
	BucketImages     = "images"
	BucketTags       = "tags"
	BucketContainers = "containers"
	BucketNetworks   = "networks"
	BucketSandboxes  = "sandboxes"
	BucketVolumes    = "volumes"
	bucketMeta       = "meta"
)

// DB is the opened metadata file.
type DB struct {
	bolt *bolt.DB
}

// Open opens (creating if needed) the metadata file at path and makes sure
// every bucket exists.
func Open(path string) (*DB, error) {
	b, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open metadata %s: %w", path, err)
	}
	err = b.Update(func(tx *bolt.Tx) error {
		for _, name := range []string{BucketImages, BucketTags, BucketContainers, BucketNetworks, BucketSandboxes, BucketVolumes, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
				return err
			}
		}
		return tx.Bucket([]byte(bucketMeta)).Put([]byte("version"), []byte{SchemaVersion})
	})
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("init metadata %s: %w", path, err)
	}
	return &DB{bolt: b}, nil
}

// Close closes the file.
func (db *DB) Close() error { return db.bolt.Close() }

// View runs fn in a read-only transaction.
func (db *DB) View(fn func(tx *bolt.Tx) error) error { return db.bolt.View(fn) }

// Update runs fn in a read-write transaction, committed when fn returns nil.
func (db *DB) Update(fn func(tx *bolt.Tx) error) error { return db.bolt.Update(fn) }

// PutJSON stores v as JSON under key in bucket.
func PutJSON(tx *bolt.Tx, bucket string, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s/%s: %w", bucket, key, err)
	}
	return tx.Bucket([]byte(bucket)).Put([]byte(key), b)
}

// GetJSON loads key of bucket into v; a missing key wraps errdefs.ErrNotFound.
func GetJSON(tx *bolt.Tx, bucket string, key string, v any) error {
	b := tx.Bucket([]byte(bucket)).Get([]byte(key))
	if b == nil {
		return fmt.Errorf("%s/%s: %w", bucket, key, errdefs.ErrNotFound)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode %s/%s: %w", bucket, key, err)
	}
	return nil
}

// Delete removes key from bucket; a missing key is not an error.
func Delete(tx *bolt.Tx, bucket string, key string) error {
	return tx.Bucket([]byte(bucket)).Delete([]byte(key))
}

// ForEach calls fn for every key of bucket with its raw JSON value.
func ForEach(tx *bolt.Tx, bucket string, fn func(key string, raw []byte) error) error {
	return tx.Bucket([]byte(bucket)).ForEach(func(k, v []byte) error { return fn(string(k), v) })
}

// ErrStop can be returned by a ForEach callback to end the walk early.
var ErrStop = errors.New("stop")
