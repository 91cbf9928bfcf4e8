//! Lenient serde building blocks.
//!
//! A wrong JSON type in a field Parapet inspects must become an
//! [`ExtractError::InvalidField`](super::ExtractError) with a JSON path, not an
//! opaque serde message. These wrappers therefore never fail on a type
//! mismatch: they drain the value and record `Wrong`, and the walker that
//! knows the path reports it. Syntax errors still fail the parse.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// Implements the `visit_*` methods of every JSON type a visitor does not
/// want, returning `$wrong` after consuming the value.
macro_rules! wrong_types {
    ($wrong:expr; $($skip:ident)*) => {
        wrong_types!(@each $wrong; $($skip)*);
    };
    (@each $wrong:expr; ) => {};
    (@each $wrong:expr; bool $($rest:ident)*) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> { Ok($wrong) }
        wrong_types!(@each $wrong; $($rest)*);
    };
    (@each $wrong:expr; num $($rest:ident)*) => {
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> { Ok($wrong) }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> { Ok($wrong) }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> { Ok($wrong) }
        wrong_types!(@each $wrong; $($rest)*);
    };
    (@each $wrong:expr; str $($rest:ident)*) => {
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> { Ok($wrong) }
        wrong_types!(@each $wrong; $($rest)*);
    };
    (@each $wrong:expr; unit $($rest:ident)*) => {
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> { Ok($wrong) }
        wrong_types!(@each $wrong; $($rest)*);
    };
    (@each $wrong:expr; seq $($rest:ident)*) => {
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok($wrong)
        }
        wrong_types!(@each $wrong; $($rest)*);
    };
    (@each $wrong:expr; map $($rest:ident)*) => {
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok($wrong)
        }
        wrong_types!(@each $wrong; $($rest)*);
    };
}

/// A scalar read without type errors: strings are borrowed when unescaped.
#[derive(Debug)]
pub(crate) enum Scalar<'a> {
    Bool(bool),
    /// A non-negative integer.
    Int(u64),
    Str(Cow<'a, str>),
    /// Anything else (negative or fractional number, array, object, null).
    Other,
}

impl Scalar<'_> {
    pub(crate) fn as_u32(&self) -> Option<u32> {
        match self {
            Scalar::Int(i) => u32::try_from(*i).ok(),
            _ => None,
        }
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Scalar::Str(s) => Some(s),
            _ => None,
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Scalar<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Scalar::Bool(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Scalar::Int(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(u64::try_from(v).map_or(Scalar::Other, Scalar::Int))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Scalar::Other)
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Scalar::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Scalar::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Scalar::Str(Cow::Owned(v)))
            }
            wrong_types!(Scalar::Other; unit seq map);
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// A JSON array of `T`, or `Wrong` when the value is not an array.
#[derive(Debug)]
pub(crate) enum Seq<T> {
    Items(Vec<T>),
    Wrong,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Seq<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Seq<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Seq::Items(items))
            }
            wrong_types!(Seq::Wrong; bool num str unit map);
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// A JSON object deserialized as `T`, or `Wrong` when the value is not an object.
#[derive(Debug)]
pub(crate) enum Obj<T> {
    Value(T),
    Wrong,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Obj<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Obj::Value)
            }
            wrong_types!(Obj::Wrong; bool num str unit seq);
        }
        d.deserialize_any(V(PhantomData))
    }
}
