//! A reader of the BPF Type Format (`linux/btf.h`), as much of it as the
//! tests of the BPF object need: each struct's size and its members'
//! names, offsets and sizes, every map the object defines in `.maps` and
//! the key and value types of each, read from the `.BTF` section of a BPF
//! object.

use std::collections::HashMap;

const BTF_MAGIC: u16 = 0xeb9f;

/// BTF kinds (`BTF_KIND_*`).
const KIND_INT: u32 = 1;
const KIND_PTR: u32 = 2;
const KIND_ARRAY: u32 = 3;
const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;
const KIND_ENUM: u32 = 6;
const KIND_FWD: u32 = 7;
const KIND_TYPEDEF: u32 = 8;
const KIND_VOLATILE: u32 = 9;
const KIND_CONST: u32 = 10;
const KIND_RESTRICT: u32 = 11;
const KIND_FUNC: u32 = 12;
const KIND_FUNC_PROTO: u32 = 13;
const KIND_VAR: u32 = 14;
const KIND_DATASEC: u32 = 15;
const KIND_FLOAT: u32 = 16;
const KIND_DECL_TAG: u32 = 17;
const KIND_TYPE_TAG: u32 = 18;
const KIND_ENUM64: u32 = 19;

/// A struct's or union's member.
#[derive(Debug, Clone)]
pub struct Member {
    pub name: String,
    pub type_id: u32,
    pub bit_offset: u32,
    /// 0 unless the member is a bitfield.
    pub bitfield_size: u32,
}

#[derive(Debug, Clone)]
struct Type {
    name: String,
    kind: u32,
    /// The size of an int, struct, union, enum or float; the type an
    /// alias, pointer, variable or function refers to.
    size_or_type: u32,
    members: Vec<Member>,
    /// An array's element type and length.
    array: Option<(u32, u32)>,
    /// A data section's variables, by type id.
    vars: Vec<u32>,
}

/// The types of one BTF blob, by id (0 is `void`).
#[derive(Debug)]
pub struct Btf {
    types: Vec<Type>,
    by_name: HashMap<(u32, String), u32>,
}

fn u32_at(data: &[u8], at: usize) -> Result<u32, String> {
    data.get(at..at + 4)
        .map(|b| u32::from_ne_bytes(b.try_into().expect("4 bytes")))
        .ok_or_else(|| format!("BTF ends before byte {}", at + 4))
}

impl Btf {
    /// The BTF of the ELF object `elf`, from its `.BTF` section.
    pub fn of_object(elf: &[u8]) -> Result<Btf, String> {
        use object::{Object, ObjectSection};
        let file = object::File::parse(elf).map_err(|e| format!("not an ELF object: {e}"))?;
        let section = file
            .section_by_name(".BTF")
            .ok_or("the object has no .BTF section (was it compiled with -g?)")?;
        let data = section
            .data()
            .map_err(|e| format!("reading the .BTF section: {e}"))?;
        Btf::parse(data)
    }

    /// Parses a BTF blob (header, types, strings) of the host's byte order.
    pub fn parse(data: &[u8]) -> Result<Btf, String> {
        if data.len() < 24 || u16::from_ne_bytes([data[0], data[1]]) != BTF_MAGIC {
            return Err("no BTF header".into());
        }
        let header_len = u32_at(data, 4)? as usize;
        let type_off = header_len + u32_at(data, 8)? as usize;
        let type_len = u32_at(data, 12)? as usize;
        let str_off = header_len + u32_at(data, 16)? as usize;
        let str_len = u32_at(data, 20)? as usize;
        let strings = data
            .get(str_off..str_off + str_len)
            .ok_or("the string section lies outside the BTF")?;
        let string = |offset: u32| -> Result<String, String> {
            let rest = strings
                .get(offset as usize..)
                .ok_or_else(|| format!("string offset {offset} outside the strings"))?;
            let end = rest.iter().position(|b| *b == 0).unwrap_or(rest.len());
            Ok(String::from_utf8_lossy(&rest[..end]).into_owned())
        };
        let types_data = data
            .get(type_off..type_off + type_len)
            .ok_or("the type section lies outside the BTF")?;
        let mut types = vec![Type {
            name: "void".into(),
            kind: 0,
            size_or_type: 0,
            members: Vec::new(),
            array: None,
            vars: Vec::new(),
        }];
        let mut at = 0;
        while at < types_data.len() {
            let name_off = u32_at(types_data, at)?;
            let info = u32_at(types_data, at + 4)?;
            let size_or_type = u32_at(types_data, at + 8)?;
            at += 12;
            let vlen = (info & 0xffff) as usize;
            let kind = (info >> 24) & 0x1f;
            let kind_flag = info >> 31 == 1;
            let mut ty = Type {
                name: string(name_off)?,
                kind,
                size_or_type,
                members: Vec::new(),
                array: None,
                vars: Vec::new(),
            };
            at += match kind {
                KIND_INT | KIND_VAR | KIND_DECL_TAG => 4,
                KIND_ARRAY => {
                    ty.array = Some((u32_at(types_data, at)?, u32_at(types_data, at + 8)?));
                    12
                }
                KIND_STRUCT | KIND_UNION => {
                    for i in 0..vlen {
                        let m = at + i * 12;
                        let offset = u32_at(types_data, m + 8)?;
                        let (bit_offset, bitfield_size) = if kind_flag {
                            (offset & 0xff_ffff, offset >> 24)
                        } else {
                            (offset, 0)
                        };
                        ty.members.push(Member {
                            name: string(u32_at(types_data, m)?)?,
                            type_id: u32_at(types_data, m + 4)?,
                            bit_offset,
                            bitfield_size,
                        });
                    }
                    vlen * 12
                }
                KIND_ENUM | KIND_FUNC_PROTO => vlen * 8,
                KIND_DATASEC => {
                    for i in 0..vlen {
                        ty.vars.push(u32_at(types_data, at + i * 12)?);
                    }
                    vlen * 12
                }
                KIND_ENUM64 => vlen * 12,
                KIND_PTR | KIND_FWD | KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT
                | KIND_FUNC | KIND_FLOAT | KIND_TYPE_TAG => 0,
                other => return Err(format!("unknown BTF kind {other}")),
            };
            types.push(ty);
        }
        let by_name = types
            .iter()
            .enumerate()
            .filter(|(_, t)| !t.name.is_empty())
            .map(|(id, t)| ((t.kind, t.name.clone()), id as u32))
            .collect();
        Ok(Btf { types, by_name })
    }

    fn get(&self, id: u32) -> &Type {
        &self.types[id as usize]
    }

    /// The id of `struct name`.
    pub fn struct_id(&self, name: &str) -> Option<u32> {
        self.by_name.get(&(KIND_STRUCT, name.to_owned())).copied()
    }

    /// `id` without typedefs and qualifiers.
    pub fn resolve(&self, mut id: u32) -> u32 {
        while matches!(
            self.get(id).kind,
            KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_TYPE_TAG
        ) {
            id = self.get(id).size_or_type;
        }
        id
    }

    /// How many bytes a value of type `id` takes.
    pub fn size_of(&self, id: u32) -> u64 {
        let ty = self.get(self.resolve(id));
        match ty.kind {
            KIND_ARRAY => {
                let (element, len) = ty.array.expect("arrays have their element");
                self.size_of(element) * u64::from(len)
            }
            KIND_PTR => 8,
            _ => u64::from(ty.size_or_type),
        }
    }

    /// The name of type `id` as C writes it (`struct flow_key`, `__u32`,
    /// `struct flow_counters[1024]`).
    pub fn name_of(&self, id: u32) -> String {
        let resolved = self.resolve(id);
        let ty = self.get(resolved);
        match ty.kind {
            KIND_STRUCT => format!("struct {}", ty.name),
            KIND_UNION => format!("union {}", ty.name),
            KIND_ARRAY => {
                let (element, len) = ty.array.expect("arrays have their element");
                format!("{}[{len}]", self.name_of(element))
            }
            KIND_PTR => format!("{} *", self.name_of(ty.size_or_type)),
            _ => self.get(id).name.clone(),
        }
    }

    /// The members of the struct or union `id`.
    pub fn members(&self, id: u32) -> &[Member] {
        &self.get(self.resolve(id)).members
    }

    /// The name of every map the object defines in `.maps`.
    pub fn maps(&self) -> Vec<String> {
        let Some(section) = self.by_name.get(&(KIND_DATASEC, ".maps".to_owned())) else {
            return Vec::new();
        };
        (self.get(*section).vars.iter())
            .map(|var| self.get(*var).name.clone())
            .collect()
    }

    /// The key and value types of the map `name` defined in `.maps`
    /// (`__type(key, ...)`, `__type(value, ...)`: pointers to them).
    pub fn map_key_value(&self, name: &str) -> Option<(u32, u32)> {
        let var = self.by_name.get(&(KIND_VAR, name.to_owned()))?;
        let definition = self.get(*var).size_or_type;
        let pointee = |member: &str| {
            let m = self.members(definition).iter().find(|m| m.name == member)?;
            let pointer = self.get(self.resolve(m.type_id));
            (pointer.kind == KIND_PTR).then_some(pointer.size_or_type)
        };
        Some((pointee("key")?, pointee("value")?))
    }
}
