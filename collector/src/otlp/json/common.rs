//! Decoding the OTLP/JSON messages every signal shares: `Resource`, `InstrumentationScope`,
//! `KeyValue` and `AnyValue` (with its arrays and key-value lists), `EntityRef`.

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use serde::de::MapAccess;

use super::lenient::{
    Base64Seed, BoolSeed, F64Seed, I32Seed, I64Seed, Message, Nullable, Repeated, StrList, StrSeed,
    U32Seed, fields, optional,
};

fields!(ResourceField {
    Attributes => "attributes",
    DroppedAttributes => "droppedAttributesCount" | "dropped_attributes_count",
    EntityRefs => "entityRefs" | "entity_refs",
});

impl Message for Resource {
    type Field = ResourceField;
    const EXPECTING: &'static str = "a Resource object";

    fn field(key: &str) -> Option<ResourceField> {
        ResourceField::from_key(key)
    }

    fn set<'de, A: MapAccess<'de>>(
        &mut self,
        field: ResourceField,
        map: &mut A,
    ) -> Result<(), A::Error> {
        match field {
            ResourceField::Attributes => map.next_value_seed(Repeated(&mut self.attributes))?,
            ResourceField::DroppedAttributes => {
                self.dropped_attributes_count =
                    map.next_value_seed(U32Seed("droppedAttributesCount"))?;
            }
            ResourceField::EntityRefs => map.next_value_seed(Repeated(&mut self.entity_refs))?,
        }
        Ok(())
    }
}

fields!(EntityRefField {
    SchemaUrl => "schemaUrl" | "schema_url",
    Type => "type",
    IdKeys => "idKeys" | "id_keys",
    DescriptionKeys => "descriptionKeys" | "description_keys",
});

impl Message for EntityRef {
    type Field = EntityRefField;
    const EXPECTING: &'static str = "an EntityRef object";

    fn field(key: &str) -> Option<EntityRefField> {
        EntityRefField::from_key(key)
    }

    fn set<'de, A: MapAccess<'de>>(
        &mut self,
        field: EntityRefField,
        map: &mut A,
    ) -> Result<(), A::Error> {
        match field {
            EntityRefField::SchemaUrl => {
                self.schema_url = map.next_value_seed(StrSeed("schemaUrl"))?;
            }
            EntityRefField::Type => self.r#type = map.next_value_seed(StrSeed("type"))?,
            EntityRefField::IdKeys => map.next_value_seed(StrList(&mut self.id_keys, "idKeys"))?,
            EntityRefField::DescriptionKeys => {
                map.next_value_seed(StrList(&mut self.description_keys, "descriptionKeys"))?;
            }
        }
        Ok(())
    }
}

fields!(ScopeField {
    Name => "name",
    Version => "version",
    Attributes => "attributes",
    DroppedAttributes => "droppedAttributesCount" | "dropped_attributes_count",
});

impl Message for InstrumentationScope {
    type Field = ScopeField;
    const EXPECTING: &'static str = "an InstrumentationScope object";

    fn field(key: &str) -> Option<ScopeField> {
        ScopeField::from_key(key)
    }

    fn set<'de, A: MapAccess<'de>>(
        &mut self,
        field: ScopeField,
        map: &mut A,
    ) -> Result<(), A::Error> {
        match field {
            ScopeField::Name => self.name = map.next_value_seed(StrSeed("name"))?,
            ScopeField::Version => self.version = map.next_value_seed(StrSeed("version"))?,
            ScopeField::Attributes => map.next_value_seed(Repeated(&mut self.attributes))?,
            ScopeField::DroppedAttributes => {
                self.dropped_attributes_count =
                    map.next_value_seed(U32Seed("droppedAttributesCount"))?;
            }
        }
        Ok(())
    }
}

fields!(KeyValueField {
    Key => "key",
    Value => "value",
    KeyStrindex => "keyStrindex" | "key_strindex",
});

impl Message for KeyValue {
    type Field = KeyValueField;
    const EXPECTING: &'static str = "a KeyValue object";

    fn field(key: &str) -> Option<KeyValueField> {
        KeyValueField::from_key(key)
    }

    fn set<'de, A: MapAccess<'de>>(
        &mut self,
        field: KeyValueField,
        map: &mut A,
    ) -> Result<(), A::Error> {
        match field {
            KeyValueField::Key => self.key = map.next_value_seed(StrSeed("key"))?,
            KeyValueField::Value => self.value = optional(map)?,
            KeyValueField::KeyStrindex => {
                self.key_strindex = map.next_value_seed(I32Seed("keyStrindex"))?;
            }
        }
        Ok(())
    }
}

fields!(AnyValueField {
    String => "stringValue" | "string_value",
    Bool => "boolValue" | "bool_value",
    Int => "intValue" | "int_value",
    Double => "doubleValue" | "double_value",
    Array => "arrayValue" | "array_value",
    Kvlist => "kvlistValue" | "kvlist_value",
    Bytes => "bytesValue" | "bytes_value",
    StringStrindex => "stringValueStrindex" | "string_value_strindex",
});

impl Message for AnyValue {
    type Field = AnyValueField;
    const EXPECTING: &'static str = "an AnyValue object";

    fn field(key: &str) -> Option<AnyValueField> {
        AnyValueField::from_key(key)
    }

    fn set<'de, A: MapAccess<'de>>(
        &mut self,
        field: AnyValueField,
        map: &mut A,
    ) -> Result<(), A::Error> {
        // `null` for a member means "not this member": the value stays as it was.
        let value = match field {
            AnyValueField::String => {
                map.next_value_seed(Nullable(StrSeed("stringValue")))?.map(Value::StringValue)
            }
            AnyValueField::Bool => {
                map.next_value_seed(Nullable(BoolSeed("boolValue")))?.map(Value::BoolValue)
            }
            AnyValueField::Int => {
                map.next_value_seed(Nullable(I64Seed("intValue")))?.map(Value::IntValue)
            }
            AnyValueField::Double => {
                map.next_value_seed(Nullable(F64Seed("doubleValue")))?.map(Value::DoubleValue)
            }
            AnyValueField::Array => optional::<ArrayValue, A>(map)?.map(Value::ArrayValue),
            AnyValueField::Kvlist => optional::<KeyValueList, A>(map)?.map(Value::KvlistValue),
            AnyValueField::Bytes => {
                map.next_value_seed(Nullable(Base64Seed("bytesValue")))?.map(Value::BytesValue)
            }
            AnyValueField::StringStrindex => map
                .next_value_seed(Nullable(I32Seed("stringValueStrindex")))?
                .map(Value::StringValueStrindex),
        };
        if value.is_some() {
            self.value = value;
        }
        Ok(())
    }
}

fields!(ValuesField { Values => "values" });

impl Message for ArrayValue {
    type Field = ValuesField;
    const EXPECTING: &'static str = "an ArrayValue object";

    fn field(key: &str) -> Option<ValuesField> {
        ValuesField::from_key(key)
    }

    fn set<'de, A: MapAccess<'de>>(
        &mut self,
        field: ValuesField,
        map: &mut A,
    ) -> Result<(), A::Error> {
        match field {
            ValuesField::Values => map.next_value_seed(Repeated(&mut self.values)),
        }
    }
}

impl Message for KeyValueList {
    type Field = ValuesField;
    const EXPECTING: &'static str = "a KeyValueList object";

    fn field(key: &str) -> Option<ValuesField> {
        ValuesField::from_key(key)
    }

    fn set<'de, A: MapAccess<'de>>(
        &mut self,
        field: ValuesField,
        map: &mut A,
    ) -> Result<(), A::Error> {
        match field {
            ValuesField::Values => map.next_value_seed(Repeated(&mut self.values)),
        }
    }
}
