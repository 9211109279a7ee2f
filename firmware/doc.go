// Package firmware installs signed firmware bundles on an air-gapped box.
//
// A box is updated from a USB stick, so an update is a way in for an
// attacker and a way to brick the box: it must be authentic, complete and
// reversible. A bundle (.mfw) carries the model, the watch configuration,
// site plugins and optionally the maira binary, described by a manifest
// signed with Ed25519. The keys a box accepts live on the box (ROOT/keys),
// put there once when it is provisioned, never on the stick.
//
// # Bundle layout
//
// All integers are big-endian.
//
//	offset        size  content
//	0             8     magic "MAIRAFW1"
//	8             4     manifest length M (1 .. 1 MiB)
//	12            M     manifest: JSON (see Manifest), the exact signed bytes
//	12+M          64    Ed25519 signature of "maira firmware manifest v1\x00" || manifest
//	76+M          ...   one zstd stream per manifest file, in manifest order,
//	                    of exactly files[i].zstd_size bytes; nothing after
//
// The manifest gives for each file its path inside the slot, its role
// (model, config, plugin, binary), its size and SHA-256, and the size and
// SHA-256 of its compressed stream; it also gives the format (1), the
// firmware version, the creation time, the signing key's id, the zstd
// window the streams were written with, and the study-store schema the
// firmware writes (store_schema) and the newest it can read
// (store_schema_max). Because the compressed streams are hashed too, every
// byte of a bundle is covered by the signature: a flipped byte anywhere is
// refused, not only the ones that would change a file.
//
// Reading a bundle checks, in this order and before anything is
// decompressed: the magic, the manifest length, the signature against the
// trusted keys, the manifest's fields (relative paths without "..", sizes
// within MaxFileSize and MaxTotalSize, a window within MaxWindow), and that
// the bundle's length is exactly what the manifest says (a truncated or
// extended bundle is refused here). Each stream is then decompressed with
// the manifest's window as the decoder's limit, hashed while it streams
// (compressed and decompressed), and cut off one byte past the declared
// size: a stream that inflates beyond it is refused as a decompression bomb.
//
// # Slots
//
// A root folder (for example /var/lib/maira/firmware) holds:
//
//	ROOT/keys/ID.pub           trusted public keys (maira firmware trust)
//	ROOT/slots/a, ROOT/slots/b the two slots; each holds files/ (the bundle's
//	                           files), manifest.json, manifest.sig and, once
//	                           everything is on disk, COMPLETE
//	ROOT/active                a symbolic link to slots/a or slots/b
//
// Apply writes the bundle to the slot the link does not name, fsyncs every
// file and folder, hashes the files again from disk, writes COMPLETE (temp
// file, fsync, rename, fsync), and only then switches the link (a new link
// under a temporary name, renamed over ROOT/active, then ROOT fsynced). A
// power cut before that rename leaves the old slot active and untouched; a
// cut after it, the new slot, complete. COMPLETE names the SHA-256 of
// manifest.json, and Active checks it, the signature and the file sizes, so
// an interrupted slot is never returned. The previous slot stays for
// Rollback, which switches the link back after hashing that slot's files.
//
// Because the link is a path, a systemd unit can run the active slot's
// binary as ROOT/active/files/bin/maira.
//
// The study store and archive live outside the slots. Their schema is the
// watcher's; a rollback (or a downgrade) to firmware that cannot read the
// store's current schema is refused.
package firmware
