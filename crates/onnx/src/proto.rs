//! Just enough of the protobuf wire format to edit an ONNX file in place: a message is kept as
//! its list of fields, so everything this crate does not touch (unknown fields included) is
//! written back byte for byte. Parsing borrows from the file's bytes; only edited fields own
//! memory, so rewriting a 350 MB graph costs about one extra copy of what changes.

use std::borrow::Cow;

/// Why bytes are not a protobuf message we can edit.
#[derive(Debug, thiserror::Error)]
#[error("not a valid protobuf message: {0}")]
pub struct ProtoError(pub &'static str);

/// One field's payload, by wire type.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// Wire type 0.
    Varint(u64),
    /// Wire type 1.
    Fixed64([u8; 8]),
    /// Wire type 2: strings, bytes, sub-messages and packed repeated scalars.
    Bytes(Cow<'a, [u8]>),
    /// Wire type 5.
    Fixed32([u8; 4]),
}

/// One field of a message, in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct Field<'a> {
    /// The field number from the schema.
    pub num: u32,
    /// Its payload.
    pub value: Value<'a>,
}

/// A message as its fields in order, so repeated fields and unknown fields survive a rewrite.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Message<'a> {
    /// The fields, in the order they were read or added.
    pub fields: Vec<Field<'a>>,
}

fn read_varint(buf: &[u8], pos: &mut usize) -> Result<u64, ProtoError> {
    let mut v: u64 = 0;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*pos).ok_or(ProtoError("truncated varint"))?;
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(ProtoError("varint longer than 10 bytes"))
}

fn write_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn take<'a>(buf: &'a [u8], pos: &mut usize, n: usize) -> Result<&'a [u8], ProtoError> {
    let end = pos
        .checked_add(n)
        .filter(|&e| e <= buf.len())
        .ok_or(ProtoError("field runs past the end"))?;
    let s = &buf[*pos..end];
    *pos = end;
    Ok(s)
}

impl<'a> Message<'a> {
    /// Splits `buf` into fields without copying payloads.
    pub fn parse(buf: &'a [u8]) -> Result<Self, ProtoError> {
        let mut fields = Vec::new();
        let mut pos = 0;
        while pos < buf.len() {
            let key = read_varint(buf, &mut pos)?;
            let num = u32::try_from(key >> 3).map_err(|_| ProtoError("field number too large"))?;
            if num == 0 {
                return Err(ProtoError("field number 0"));
            }
            let value = match key & 7 {
                0 => Value::Varint(read_varint(buf, &mut pos)?),
                1 => {
                    let s = take(buf, &mut pos, 8)?;
                    Value::Fixed64(s.try_into().map_err(|_| ProtoError("fixed64"))?)
                }
                2 => {
                    let n = read_varint(buf, &mut pos)?;
                    let n = usize::try_from(n).map_err(|_| ProtoError("length too large"))?;
                    Value::Bytes(Cow::Borrowed(take(buf, &mut pos, n)?))
                }
                5 => {
                    let s = take(buf, &mut pos, 4)?;
                    Value::Fixed32(s.try_into().map_err(|_| ProtoError("fixed32"))?)
                }
                _ => return Err(ProtoError("unsupported wire type (groups)")),
            };
            fields.push(Field { num, value });
        }
        Ok(Message { fields })
    }

    /// Writes the message in wire format.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        for f in &self.fields {
            let wire = match f.value {
                Value::Varint(_) => 0,
                Value::Fixed64(_) => 1,
                Value::Bytes(_) => 2,
                Value::Fixed32(_) => 5,
            };
            write_varint(&mut out, (u64::from(f.num) << 3) | wire);
            match &f.value {
                Value::Varint(v) => write_varint(&mut out, *v),
                Value::Fixed64(b) => out.extend_from_slice(b),
                Value::Fixed32(b) => out.extend_from_slice(b),
                Value::Bytes(b) => {
                    write_varint(&mut out, b.len() as u64);
                    out.extend_from_slice(b);
                }
            }
        }
        out
    }

    fn encoded_len(&self) -> usize {
        self.fields
            .iter()
            .map(|f| {
                11 + match &f.value {
                    Value::Varint(_) => 10,
                    Value::Fixed64(_) => 8,
                    Value::Fixed32(_) => 4,
                    Value::Bytes(b) => b.len(),
                }
            })
            .sum()
    }

    /// The last varint with this number (protobuf: last one wins).
    pub fn varint(&self, num: u32) -> Option<u64> {
        self.fields.iter().rev().find_map(|f| match f.value {
            Value::Varint(v) if f.num == num => Some(v),
            _ => None,
        })
    }

    /// Every length-delimited payload with this number, in order.
    pub fn all_bytes(&self, num: u32) -> impl Iterator<Item = &[u8]> {
        self.fields.iter().filter_map(move |f| match &f.value {
            Value::Bytes(b) if f.num == num => Some(b.as_ref()),
            _ => None,
        })
    }

    /// The last length-delimited payload with this number.
    pub fn bytes(&self, num: u32) -> Option<&[u8]> {
        self.all_bytes(num).last()
    }

    /// A string field (lossy for invalid UTF-8, which ONNX names never are).
    pub fn string(&self, num: u32) -> Option<String> {
        self.bytes(num)
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }

    /// Whether any field has this number.
    pub fn has(&self, num: u32) -> bool {
        self.fields.iter().any(|f| f.num == num)
    }

    /// Sets a varint field, replacing earlier values.
    pub fn set_varint(&mut self, num: u32, v: u64) {
        self.fields.retain(|f| f.num != num);
        self.fields.push(Field {
            num,
            value: Value::Varint(v),
        });
    }

    /// Appends a length-delimited field.
    pub fn push_bytes(&mut self, num: u32, b: Vec<u8>) {
        self.fields.push(Field {
            num,
            value: Value::Bytes(Cow::Owned(b)),
        });
    }

    /// Removes every field with this number.
    pub fn remove(&mut self, num: u32) {
        self.fields.retain(|f| f.num != num);
    }

    /// The message with every payload owned, so it outlives the bytes it was parsed from.
    pub fn into_owned(self) -> Message<'static> {
        Message {
            fields: self
                .fields
                .into_iter()
                .map(|f| Field {
                    num: f.num,
                    value: match f.value {
                        Value::Bytes(b) => Value::Bytes(Cow::Owned(b.into_owned())),
                        Value::Varint(v) => Value::Varint(v),
                        Value::Fixed32(v) => Value::Fixed32(v),
                        Value::Fixed64(v) => Value::Fixed64(v),
                    },
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_wire_type_and_keeps_order() {
        let mut m = Message::default();
        m.set_varint(1, 300);
        m.push_bytes(2, b"hello".to_vec());
        m.fields.push(Field {
            num: 3,
            value: Value::Fixed32(1.5f32.to_le_bytes()),
        });
        m.fields.push(Field {
            num: 4,
            value: Value::Fixed64(7u64.to_le_bytes()),
        });
        m.push_bytes(2, b"again".to_vec());
        let bytes = m.encode();
        // 300 as a varint is ac 02; field 1 varint key is 08.
        assert_eq!(&bytes[..3], &[0x08, 0xac, 0x02]);
        let back = Message::parse(&bytes).unwrap();
        assert_eq!(back.encode(), bytes);
        assert_eq!(back.varint(1), Some(300));
        assert_eq!(back.string(2).as_deref(), Some("again"));
        assert_eq!(back.all_bytes(2).count(), 2);
    }

    #[test]
    fn truncated_input_is_an_error_not_a_panic() {
        let mut m = Message::default();
        m.push_bytes(1, vec![9; 40]);
        let bytes = m.encode();
        for cut in 1..bytes.len() {
            assert!(Message::parse(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        assert!(Message::parse(&[0x0b]).is_err(), "group wire type");
        assert!(Message::parse(&[0xff; 12]).is_err(), "endless varint");
    }
}
