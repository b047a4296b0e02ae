//! Opaque handles and the casts between them and the Rust values behind them.
//!
//! Each C handle type is an opaque struct that C only ever sees behind a pointer. There are two ownership
//! kinds: results, configs and options are tagged `Box`es handed to C ([`BoxOwned`]: create, borrow,
//! free), and detectors live in a
//! generation-checked [`HandleTable`] (insert, get, remove), so that a stale detector handle is an error, not
//! a use after free.

use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};

use crate::error::{Error, Result};

/// A C handle type whose pointer is a `Box` handed to C.
pub(crate) trait BoxOwned: Sized {
    /// The Rust value behind the handle.
    type Rust;
    /// The handle's name in error messages.
    const NAME: &'static str;
    /// Written in front of every live value of this kind and checked on every use, so that the common
    /// mistakes (a pointer of another kind, a result freed twice) are reported instead of followed.
    const TAG: u64;
}

/// The heap block behind a Box-owned handle: the kind's tag, then the value.
#[repr(C)]
struct Tagged<T> {
    tag: u64,
    value: T,
}

/// What a freed block's tag is overwritten with, for allocators that leave the first word alone.
const FREED_TAG: u64 = 0xDEAD_F4EE_DEAD_F4EE;

/// Moves `value` to the heap and returns it as an owning C handle.
pub(crate) fn into_handle<C: BoxOwned>(value: C::Rust) -> *mut C {
    Box::into_raw(Box::new(Tagged { tag: C::TAG, value })).cast()
}

/// The error for a non-NULL pointer that is not a live handle of kind `C`.
fn not_live<C: BoxOwned>() -> Error {
    Error::invalid_handle(format!("this pointer is not a live {} (freed already, or not from this library?)", C::NAME))
}

/// Checks the tag of a non-NULL handle and returns its block.
///
/// # Safety
/// `handle` must be readable for a `u64` at its address. That holds for every live handle; for the mistakes
/// this check exists for (a freed result whose memory the allocator still holds, a pointer to another kind
/// of object) it is a best effort, and the API documents those calls as undefined behaviour.
unsafe fn checked_block<C: BoxOwned>(handle: *const C) -> Result<*mut Tagged<C::Rust>> {
    let block = handle.cast::<Tagged<C::Rust>>().cast_mut();
    // A detector handle (an encoded index, not an address) is usually misaligned for a block: caught here
    // without reading anything.
    if !block.is_aligned() {
        return Err(not_live::<C>());
    }
    // SAFETY: aligned, and readable by the caller's contract.
    let tag = unsafe { std::ptr::addr_of!((*block).tag).read_volatile() };
    if tag != C::TAG {
        return Err(not_live::<C>());
    }
    Ok(block)
}

/// The live block behind a non-NULL handle of kind `C`; NULL is an invalid-argument error, and a pointer
/// without this kind's tag an invalid-handle error.
///
/// # Safety
/// As for [`borrow_handle`].
unsafe fn live_block<C: BoxOwned>(handle: *const C) -> Result<*mut Tagged<C::Rust>> {
    if handle.is_null() {
        return Err(Error::invalid_argument(format!("{} is NULL", C::NAME)));
    }
    // SAFETY: a live handle by the caller's contract.
    unsafe { checked_block(handle) }
}

/// Borrows the value behind a handle; NULL is an invalid-argument error, and a pointer without this kind's
/// tag an invalid-handle error.
///
/// # Safety
/// A non-NULL `handle` must come from [`into_handle`] for the same `C`, and not have been freed.
pub(crate) unsafe fn borrow_handle<'a, C: BoxOwned>(handle: *const C) -> Result<&'a C::Rust> {
    // SAFETY: forwarded to the caller's contract; the tag matched, so this is a live block made by
    // `into_handle`.
    unsafe { live_block(handle).map(|block| &(*block).value) }
}

/// Borrows the value behind a handle mutably, with the checks of [`borrow_handle`].
///
/// # Safety
/// A non-NULL `handle` must come from [`into_handle`] for the same `C`, not have been freed, and not be in
/// use by any other thread during the borrow.
pub(crate) unsafe fn borrow_handle_mut<'a, C: BoxOwned>(handle: *mut C) -> Result<&'a mut C::Rust> {
    // SAFETY: as above, and no other thread uses the block during the borrow.
    unsafe { live_block(handle).map(|block| &mut (*block).value) }
}

/// Frees a handle; NULL is a no-op. A pointer without this kind's tag is left alone and reported.
///
/// # Safety
/// A non-NULL `handle` must come from [`into_handle`] for the same `C`, not have been freed, and not be in
/// use by any other thread.
pub(crate) unsafe fn free_handle<C: BoxOwned>(handle: *mut C) -> Result<()> {
    if handle.is_null() {
        return Ok(());
    }
    // SAFETY: a live handle by the caller's contract.
    let block = unsafe { checked_block(handle) }?;
    // SAFETY: the tag matched, so this is the `Box` made by `into_handle`, freed only here. The tag is
    // overwritten first so that a second free of the same block is caught while the memory stays unused.
    unsafe {
        std::ptr::addr_of_mut!((*block).tag).write_volatile(FREED_TAG);
        drop(Box::from_raw(block));
    }
    Ok(())
}

/// The second ownership kind: handles kept in a [`HandleTable`], shared by `Arc` with the calls in flight.
///
/// A table handle is not a pointer but an encoded slot index and generation, never dereferenced. A freed
/// handle's slot gets a new generation, so using a handle after `free` (even once the slot is reused) or
/// freeing it twice is reported as an invalid handle instead of touching freed memory; and a call in flight
/// holds its own `Arc`, so `free` during that call only releases the value when the call returns.
pub(crate) struct HandleTable<T> {
    slots: OnceLock<Box<[RwLock<Slot<T>>]>>,
    free_slots: Mutex<Vec<usize>>,
    capacity: usize,
}

struct Slot<T> {
    generation: u64,
    value: Option<Arc<T>>,
}

/// Bits of a handle that hold the slot index plus one (so that no handle is 0, which C reads as NULL).
const INDEX_BITS: u32 = 20;

impl<T> HandleTable<T> {
    /// A table of at most `capacity` live handles; its memory is allocated on first use.
    pub(crate) const fn new(capacity: usize) -> Self {
        assert!(capacity < (1 << INDEX_BITS));
        Self { slots: OnceLock::new(), free_slots: Mutex::new(Vec::new()), capacity }
    }

    fn slots(&self) -> &[RwLock<Slot<T>>] {
        self.slots.get_or_init(|| {
            *self.free_slots.lock().unwrap_or_else(PoisonError::into_inner) = (0..self.capacity).rev().collect();
            (0..self.capacity).map(|_| RwLock::new(Slot { generation: 1, value: None })).collect()
        })
    }

    fn encode(index: usize, generation: u64) -> usize {
        ((generation as usize) << INDEX_BITS) | (index + 1)
    }

    fn decode(handle: usize) -> Option<(usize, u64)> {
        let index = (handle & ((1 << INDEX_BITS) - 1)).checked_sub(1)?;
        Some((index, (handle >> INDEX_BITS) as u64))
    }

    /// Stores `value` and returns its handle.
    pub(crate) fn insert(&self, value: T) -> Result<usize> {
        let slots = self.slots();
        let index = self.free_slots.lock().unwrap_or_else(PoisonError::into_inner).pop().ok_or_else(|| {
            Error::invalid_argument(format!("too many live detectors: at most {} at once", self.capacity))
        })?;
        let mut slot = slots[index].write().unwrap_or_else(PoisonError::into_inner);
        slot.value = Some(Arc::new(value));
        Ok(Self::encode(index, slot.generation))
    }

    /// The slot a handle names and whether its generation is the slot's current one.
    fn locate(&self, handle: usize, name: &str) -> Result<(&RwLock<Slot<T>>, usize, u64)> {
        let (index, generation) = Self::decode(handle).ok_or_else(|| Self::stale(name))?;
        let slot = self.slots().get(index).ok_or_else(|| Self::stale(name))?;
        Ok((slot, index, generation))
    }

    fn stale(name: &str) -> Error {
        Error::invalid_handle(format!("{name} is not a live handle (freed already?)"))
    }

    /// Whether `slot` holds a value of `generation` (compared as encoded: generations wrap at the handle's
    /// width).
    fn is_current(slot: &Slot<T>, index: usize, generation: u64) -> bool {
        slot.value.is_some() && Self::encode(index, slot.generation) == Self::encode(index, generation)
    }

    /// The value behind a live handle. Takes only that slot's read lock, and only to clone the `Arc`.
    pub(crate) fn get(&self, handle: usize, name: &str) -> Result<Arc<T>> {
        let (slot, index, generation) = self.locate(handle, name)?;
        let slot = slot.read().unwrap_or_else(PoisonError::into_inner);
        match &slot.value {
            Some(value) if Self::is_current(&slot, index, generation) => Ok(Arc::clone(value)),
            _ => Err(Self::stale(name)),
        }
    }

    /// Invalidates a handle and returns its value; the value lives on while calls in flight hold it.
    pub(crate) fn remove(&self, handle: usize, name: &str) -> Result<Arc<T>> {
        let (slot, index, generation) = self.locate(handle, name)?;
        let value = {
            let mut slot = slot.write().unwrap_or_else(PoisonError::into_inner);
            if !Self::is_current(&slot, index, generation) {
                return Err(Self::stale(name));
            }
            slot.generation = slot.generation.wrapping_add(1);
            slot.value.take().expect("checked above")
        };
        self.free_slots.lock().unwrap_or_else(PoisonError::into_inner).push(index);
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::yolo_status;

    struct Thing;
    impl BoxOwned for Thing {
        type Rust = String;
        const NAME: &'static str = "thing";
        const TAG: u64 = 0x1234_5678_9ABC_DEF0;
    }

    #[test]
    fn tagged_boxes_borrow_free_and_refuse_other_pointers() {
        let handle = into_handle::<Thing>("value".to_owned());
        // SAFETY: a live handle from `into_handle`.
        assert_eq!(unsafe { borrow_handle(handle) }.unwrap(), "value");
        // A misaligned value (as a detector handle usually is) is refused without being read.
        let misaligned = std::ptr::without_provenance_mut::<Thing>(0x10_0001);
        // SAFETY: rejected by the alignment check before any read.
        let error = unsafe { free_handle(misaligned) }.unwrap_err();
        assert_eq!(error.status(), yolo_status::InvalidHandle);
        assert!(error.message().contains("not a live thing"), "{}", error.message());
        // Readable memory with another tag is refused and left alone.
        let mut other = [0u64; 4];
        // SAFETY: `other` is readable and aligned; it is not freed because its tag does not match.
        assert!(unsafe { free_handle(other.as_mut_ptr().cast::<Thing>()) }.is_err());
        // SAFETY: as above.
        assert!(unsafe { borrow_handle(other.as_ptr().cast::<Thing>()) }.is_err());
        // SAFETY: NULL is accepted by free and refused by borrow.
        unsafe {
            assert!(free_handle::<Thing>(std::ptr::null_mut()).is_ok());
            assert_eq!(borrow_handle::<Thing>(std::ptr::null()).unwrap_err().status(), yolo_status::InvalidArgument);
        }
        // SAFETY: the live handle, freed once.
        unsafe { free_handle(handle) }.unwrap();
    }

    #[test]
    fn stale_and_double_freed_handles_are_detected_even_when_the_slot_is_reused() {
        let table = HandleTable::new(1);
        let first = table.insert("a").unwrap();
        assert_ne!(first, 0);
        assert_eq!(*table.get(first, "h").unwrap(), "a");
        assert!(table.insert("full").is_err(), "capacity 1");
        assert_eq!(*table.remove(first, "h").unwrap(), "a");
        assert_eq!(table.get(first, "h").unwrap_err().status(), yolo_status::InvalidHandle);
        assert_eq!(table.remove(first, "h").unwrap_err().status(), yolo_status::InvalidHandle);
        let second = table.insert("b").unwrap();
        assert_ne!(first, second, "same slot, new generation");
        assert_eq!(table.get(first, "h").unwrap_err().status(), yolo_status::InvalidHandle);
        assert_eq!(*table.get(second, "h").unwrap(), "b");
        for garbage in [0usize, 12345, usize::MAX] {
            assert_eq!(table.get(garbage, "h").unwrap_err().status(), yolo_status::InvalidHandle);
        }
    }

    #[test]
    fn a_value_outlives_its_handle_while_a_call_holds_it() {
        let table = HandleTable::new(4);
        let handle = table.insert(String::from("model")).unwrap();
        let in_flight = table.get(handle, "h").unwrap();
        drop(table.remove(handle, "h").unwrap());
        assert_eq!(*in_flight, "model", "released only when the call returns");
        assert_eq!(Arc::strong_count(&in_flight), 1);
    }
}
