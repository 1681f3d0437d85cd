//! A read-only reader of libpod's state database (`bolt_state.db`, a bbolt B+tree file),
//! for what Podman keeps nowhere else on disk: a container's labels and its pod's name.
//!
//! The file is read whole (at most [`MAX_DB`] bytes) without taking bbolt's lock; every
//! offset is bounds-checked, so a torn read (Podman writing at the same moment) or a
//! corrupt file gives `None`, never a panic. Layout (bbolt's): pages of `pageSize` bytes,
//! a 16-byte page header (`id u64, flags u16, count u16, overflow u32`); two meta pages
//! (magic `0xED0CDAED`, the newer valid txid wins) naming the root bucket's page; branch
//! pages of `{pos u32, ksize u32, pgid u64}` elements, leaf pages of `{flags u32, pos u32,
//! ksize u32, vsize u32}` elements (flag 1: the value is a bucket: `{root u64, seq u64}`,
//! root 0 = an inline page right after it). libpod: bucket `ctr` -> container id ->
//! `config` (JSON: `name`, `pod`, `labels`, `rootfsImageName`, `rootfsImageID`); bucket
//! `pod` -> pod id -> `config` (JSON: `name`).

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

/// Databases larger than this are not read.
pub const MAX_DB: u64 = 64 << 20;
/// Deepest B+tree walked (bbolt trees are a few levels deep).
const MAX_DEPTH: usize = 16;

const MAGIC: u32 = 0xED0C_DAED;
const BRANCH: u16 = 0x01;
const LEAF: u16 = 0x02;
const BUCKET_LEAF: u32 = 0x01;

/// What libpod's state says about one container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LibpodContainer {
    pub name: Option<String>,
    pub image: Option<String>,
    pub labels: BTreeMap<String, String>,
    /// The labels of its image (from containers/storage), for the trust rule.
    pub image_labels: BTreeMap<String, String>,
    /// Its Podman pod's name.
    pub pod: Option<String>,
}

fn u16_at(b: &[u8], o: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(o..o + 2)?.try_into().ok()?))
}
fn u32_at(b: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(o..o + 4)?.try_into().ok()?))
}
fn u64_at(b: &[u8], o: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(o..o + 8)?.try_into().ok()?))
}

/// A bbolt file in memory.
pub struct Db {
    data: Vec<u8>,
    page_size: usize,
    root: u64,
}

/// Where a page is: the whole file (a page id) or an inline bucket's bytes.
#[derive(Clone, Copy)]
enum Page<'a> {
    File(u64),
    Inline(&'a [u8]),
}

impl Db {
    /// Parses the meta pages of `data`.
    pub fn new(data: Vec<u8>) -> Option<Db> {
        let meta = |off: usize| -> Option<(usize, u64, u64)> {
            if u32_at(&data, off + 16)? != MAGIC {
                return None;
            }
            let ps = u32_at(&data, off + 24)? as usize;
            let root = u64_at(&data, off + 32)?;
            let txid = u64_at(&data, off + 64)?;
            // FNV-1a 64 of the meta up to the checksum.
            let mut h: u64 = 0xcbf2_9ce4_8422_2325;
            for &b in data.get(off + 16..off + 72)? {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
            (h == u64_at(&data, off + 72)? && (512..=1 << 20).contains(&ps))
                .then_some((ps, root, txid))
        };
        let m0 = meta(0);
        let ps0 = m0.map_or(4096, |m| m.0);
        let m1 = meta(ps0);
        let (page_size, root, _) = match (m0, m1) {
            (Some(a), Some(b)) => {
                if b.2 > a.2 {
                    b
                } else {
                    a
                }
            }
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => return None,
        };
        Some(Db {
            data,
            page_size,
            root,
        })
    }

    fn page_bytes<'a>(&'a self, p: Page<'a>) -> Option<&'a [u8]> {
        match p {
            Page::Inline(b) => Some(b),
            Page::File(id) => {
                let off = usize::try_from(id).ok()?.checked_mul(self.page_size)?;
                let overflow = u32_at(&self.data, off + 12)? as usize;
                let len = (overflow + 1).checked_mul(self.page_size)?;
                let end = off.checked_add(len)?.min(self.data.len());
                self.data.get(off..end)
            }
        }
    }

    /// The value of `key` in the bucket whose root is `page`: (is a bucket, bytes).
    fn get<'a>(&'a self, page: Page<'a>, key: &[u8], depth: usize) -> Option<(bool, &'a [u8])> {
        if depth > MAX_DEPTH {
            return None;
        }
        let b = self.page_bytes(page)?;
        let flags = u16_at(b, 8)?;
        let count = u16_at(b, 10)? as usize;
        if flags & BRANCH != 0 {
            // The last element whose key is <= key.
            let mut child = None;
            for i in 0..count {
                let e = 16 + i * 16;
                let pos = u32_at(b, e)? as usize;
                let ks = u32_at(b, e + 4)? as usize;
                let k = b.get(e + pos..e + pos + ks)?;
                if k > key && child.is_some() {
                    break;
                }
                child = Some(u64_at(b, e + 8)?);
            }
            return self.get(Page::File(child?), key, depth + 1);
        }
        if flags & LEAF == 0 {
            return None;
        }
        for i in 0..count {
            let e = 16 + i * 16;
            let fl = u32_at(b, e)?;
            let pos = u32_at(b, e + 4)? as usize;
            let ks = u32_at(b, e + 8)? as usize;
            let vs = u32_at(b, e + 12)? as usize;
            let k = b.get(e + pos..e + pos + ks)?;
            if k == key {
                let v = b.get(e + pos + ks..e + pos + ks + vs)?;
                return Some((fl & BUCKET_LEAF != 0, v));
            }
        }
        None
    }

    /// The root page of a bucket value.
    fn bucket<'a>(&self, v: &'a [u8]) -> Option<Page<'a>> {
        let root = u64_at(v, 0)?;
        if root == 0 {
            Some(Page::Inline(v.get(16..)?))
        } else {
            Some(Page::File(root))
        }
    }

    /// The plain (non-bucket) key/value pairs of the bucket at `path`, at most `max`.
    pub fn entries(&self, path: &[&[u8]], max: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut out = Vec::new();
        let mut page = Page::File(self.root);
        for b in path {
            match self.get(page, b, 0) {
                Some((true, v)) => match self.bucket(v) {
                    Some(p) => page = p,
                    None => return out,
                },
                _ => return out,
            }
        }
        self.collect(page, 0, max, &mut out);
        out
    }

    fn collect(&self, page: Page<'_>, depth: usize, max: usize, out: &mut Vec<(Vec<u8>, Vec<u8>)>) {
        let Some(b) = self.page_bytes(page) else {
            return;
        };
        if depth > MAX_DEPTH {
            return;
        }
        let (Some(flags), Some(count)) = (u16_at(b, 8), u16_at(b, 10)) else {
            return;
        };
        for i in 0..count as usize {
            if out.len() >= max {
                return;
            }
            let e = 16 + i * 16;
            if flags & BRANCH != 0 {
                if let Some(child) = u64_at(b, e + 8) {
                    self.collect(Page::File(child), depth + 1, max, out);
                }
                continue;
            }
            let (Some(fl), Some(pos), Some(ks), Some(vs)) = (
                u32_at(b, e),
                u32_at(b, e + 4),
                u32_at(b, e + 8),
                u32_at(b, e + 12),
            ) else {
                return;
            };
            let (pos, ks, vs) = (pos as usize, ks as usize, vs as usize);
            if fl & BUCKET_LEAF != 0 {
                continue;
            }
            if let (Some(k), Some(v)) = (
                b.get(e + pos..e + pos + ks),
                b.get(e + pos + ks..e + pos + ks + vs),
            ) {
                out.push((k.to_vec(), v.to_vec()));
            }
        }
    }

    /// The value at `path` (buckets, then a key).
    pub fn lookup(&self, path: &[&[u8]]) -> Option<&[u8]> {
        let (last, buckets) = path.split_last()?;
        let mut page = Page::File(self.root);
        for b in buckets {
            let (is_bucket, v) = self.get(page, b, 0)?;
            if !is_bucket {
                return None;
            }
            page = self.bucket(v)?;
        }
        match self.get(page, last, 0)? {
            (false, v) => Some(v),
            (true, _) => None,
        }
    }
}

fn read_db(path: &Path) -> Option<Db> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() || meta.len() > MAX_DB {
        return None;
    }
    Db::new(std::fs::read(path).ok()?)
}

fn labels_of(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// Standard base64 (with padding), as containers/storage names its big-data files.
fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= c.len() {
                out.push(A[((n >> shift) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The labels of image `image_id` in the containers/storage graph root `storage`
/// (`overlay-images/<id>/=<base64("sha256:<id>")>`, the image config).
pub fn storage_image_labels(storage: &Path, image_id: &str) -> BTreeMap<String, String> {
    if image_id.len() != 64 || !image_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return BTreeMap::new();
    }
    let file = format!("={}", base64(format!("sha256:{image_id}").as_bytes()));
    let p = storage.join("overlay-images").join(image_id).join(file);
    let Ok(meta) = std::fs::metadata(&p) else {
        return BTreeMap::new();
    };
    if !meta.is_file() || meta.len() > 16 << 20 {
        return BTreeMap::new();
    }
    let v: Option<Value> = std::fs::read(&p)
        .ok()
        .and_then(|d| serde_json::from_slice(&d).ok());
    labels_of(
        v.as_ref()
            .and_then(|v| v.get("config"))
            .and_then(|c| c.get("Labels")),
    )
}

/// What containerd's metadata database (`meta.db`) says about container `id` of namespace
/// `ns`: its image and labels.
pub fn containerd_container(
    db: &Path,
    ns: &str,
    id: &str,
) -> Option<(Option<String>, BTreeMap<String, String>)> {
    let d = read_db(db)?;
    let base: [&[u8]; 4] = [b"v1", ns.as_bytes(), b"containers", id.as_bytes()];
    let image = d.lookup(&[base[0], base[1], base[2], base[3], b"image"])?;
    let image = std::str::from_utf8(image)
        .ok()
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let labels = d
        .entries(&[base[0], base[1], base[2], base[3], b"labels"], 256)
        .into_iter()
        .filter_map(|(k, v)| Some((String::from_utf8(k).ok()?, String::from_utf8(v).ok()?)))
        .collect();
    Some((image, labels))
}

/// What libpod's state database `db` says about container `id` (`None` when the file or
/// the container is not there, or the file cannot be read).
pub fn libpod_container(db: &Path, id: &str) -> Option<LibpodContainer> {
    let d = read_db(db)?;
    let config = d.lookup(&[b"ctr", id.as_bytes(), b"config"])?;
    let v: Value = serde_json::from_slice(config).ok()?;
    let s = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let pod = s("pod").and_then(|pid| {
        let c = d.lookup(&[b"pod", pid.as_bytes(), b"config"])?;
        let pv: Value = serde_json::from_slice(c).ok()?;
        pv.get("name").and_then(Value::as_str).map(str::to_string)
    });
    let storage = db.parent().and_then(Path::parent);
    let image_labels = match (storage, s("rootfsImageID")) {
        (Some(st), Some(img)) => storage_image_labels(st, &img),
        _ => BTreeMap::new(),
    };
    Some(LibpodContainer {
        name: s("name"),
        image: s("rootfsImageName"),
        labels: labels_of(v.get("labels")),
        image_labels,
        pod,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-leaf-page bbolt file: meta pages 0 and 1, root leaf at page 2 holding inline
    /// buckets `ctr` -> `ID` -> `config`.
    fn tiny_db(config: &[u8]) -> Vec<u8> {
        const PS: usize = 4096;
        fn leaf(elems: &[(u32, &[u8], &[u8])]) -> Vec<u8> {
            let mut head = Vec::new();
            head.extend_from_slice(&0u64.to_le_bytes());
            head.extend_from_slice(&LEAF.to_le_bytes());
            head.extend_from_slice(&(elems.len() as u16).to_le_bytes());
            head.extend_from_slice(&0u32.to_le_bytes());
            let mut data = Vec::new();
            let n = elems.len();
            for (i, (fl, k, v)) in elems.iter().enumerate() {
                let e = 16 + i * 16;
                let pos = 16 + n * 16 + data.len() - e;
                head.extend_from_slice(&fl.to_le_bytes());
                head.extend_from_slice(&(pos as u32).to_le_bytes());
                head.extend_from_slice(&(k.len() as u32).to_le_bytes());
                head.extend_from_slice(&(v.len() as u32).to_le_bytes());
                data.extend_from_slice(k);
                data.extend_from_slice(v);
            }
            head.extend(data);
            head
        }
        fn inline(page: Vec<u8>) -> Vec<u8> {
            let mut v = vec![0u8; 16];
            v.extend(page);
            v
        }
        let id_bucket = inline(leaf(&[(0, b"config", config)]));
        let ctr_bucket = inline(leaf(&[(1, b"ID", &id_bucket)]));
        let root = leaf(&[(1, b"ctr", &ctr_bucket)]);
        let mut f = vec![0u8; PS * 3];
        for (m, txid) in [(0usize, 1u64), (1, 2)] {
            let off = m * PS;
            f[off + 16..off + 20].copy_from_slice(&MAGIC.to_le_bytes());
            f[off + 20..off + 24].copy_from_slice(&2u32.to_le_bytes());
            f[off + 24..off + 28].copy_from_slice(&(PS as u32).to_le_bytes());
            f[off + 32..off + 40].copy_from_slice(&2u64.to_le_bytes());
            f[off + 64..off + 72].copy_from_slice(&txid.to_le_bytes());
            let mut h: u64 = 0xcbf2_9ce4_8422_2325;
            for &b in &f[off + 16..off + 72] {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
            f[off + 72..off + 80].copy_from_slice(&h.to_le_bytes());
        }
        f[2 * PS..2 * PS + root.len()].copy_from_slice(&root);
        f
    }

    #[test]
    fn reads_a_container_config() {
        let d = Db::new(tiny_db(br#"{"name":"web"}"#)).unwrap();
        assert_eq!(
            d.lookup(&[b"ctr", b"ID", b"config"]),
            Some(&br#"{"name":"web"}"#[..])
        );
        assert_eq!(d.lookup(&[b"ctr", b"NOPE", b"config"]), None);
        assert_eq!(d.lookup(&[b"ctr", b"ID"]), None, "a bucket is not a value");
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("libpod/bolt_state.db");
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(
            &p,
            tiny_db(br#"{"name":"web","labels":{"a":"b"},"rootfsImageName":"x/y:1"}"#),
        )
        .unwrap();
        let c = libpod_container(&p, "ID").unwrap();
        assert_eq!(c.name.as_deref(), Some("web"));
        assert_eq!(c.image.as_deref(), Some("x/y:1"));
        assert_eq!(c.labels.get("a").map(String::as_str), Some("b"));
    }

    #[test]
    fn garbage_and_truncation_never_panic() {
        let good = tiny_db(br#"{"name":"web"}"#);
        for len in (0..good.len()).step_by(97) {
            if let Some(d) = Db::new(good[..len].to_vec()) {
                let _ = d.lookup(&[b"ctr", b"ID", b"config"]);
            }
        }
        let mut bad = good.clone();
        for i in (2 * 4096..2 * 4096 + 200).step_by(3) {
            bad[i] = bad[i].wrapping_add(0x5a);
            if let Some(d) = Db::new(bad.clone()) {
                let _ = d.lookup(&[b"ctr", b"ID", b"config"]);
            }
        }
        assert!(Db::new(vec![0u8; 100]).is_none());
    }

    #[test]
    fn base64_like_containers_storage() {
        assert_eq!(base64(b"sha256:1"), "c2hhMjU2OjE=");
        assert_eq!(
            base64(b"sha256:154e87a53048e50a4da4a615a81ef166a57d171873e4023fa83e5d1342cbe835"),
            "c2hhMjU2OjE1NGU4N2E1MzA0OGU1MGE0ZGE0YTYxNWE4MWVmMTY2YTU3ZDE3MTg3M2U0MDIzZmE4M2U1ZDEzNDJjYmU4MzU="
        );
    }
}
