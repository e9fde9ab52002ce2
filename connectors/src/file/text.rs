//! Streams the text of a CSV or JSON object as UTF-8 chunks: bytes from the object store,
//! gunzipped when compressed, decoded from the configured character encoding (a byte sequence
//! that is not valid in it is an error naming the file and offset, never a replacement
//! character), with a leading byte order mark and `skip_lines` junk lines removed.
//! Memory stays bounded by the object store's chunk size.

use super::config::FileSettings;
use super::listing::{store_error, DataFile};
use crate::error::{ConnectorError, Result};
use bytes::Bytes;
use encoding_rs::DecoderResult;
use flate2::write::MultiGzDecoder;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use object_store::ObjectStoreExt;
use std::io::Write;

/// A stream of the UTF-8 text of one object.
pub struct TextStream {
    name: String,
    bytes: BoxStream<'static, object_store::Result<Bytes>>,
    gzip: Option<MultiGzDecoder<Vec<u8>>>,
    decoder: Option<encoding_rs::Decoder>,
    first_chunk: bool,
    lines_to_skip: usize,
    offset: u64,
    finished: bool,
}

impl TextStream {
    /// Opens the text of `file`.
    ///
    /// # Errors
    /// [`ConnectorError::ObjectStore`] when the object cannot be read.
    pub async fn open(settings: &FileSettings, file: &DataFile) -> Result<Self> {
        let name = file.path.to_string();
        let result = settings
            .store
            .get(&file.path)
            .await
            .map_err(store_error(format!("read {name}")))?;
        let decoder = if settings.encoding == encoding_rs::UTF_8 {
            None
        } else {
            Some(settings.encoding.new_decoder_with_bom_removal())
        };
        Ok(TextStream {
            gzip: settings
                .is_gzip(&name)
                .then(|| MultiGzDecoder::new(Vec::new())),
            name,
            bytes: result.into_stream(),
            decoder,
            first_chunk: true,
            lines_to_skip: settings.csv.skip_lines,
            offset: 0,
            finished: false,
        })
    }

    /// Returns the object's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Returns the next chunk of UTF-8 text, `None` at the end.
    ///
    /// # Errors
    /// [`ConnectorError::ObjectStore`] on a read error, [`ConnectorError::File`] for bytes
    /// that are not valid gzip or not valid in the encoding.
    pub async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>> {
        loop {
            if self.finished {
                return Ok(None);
            }
            let (raw, last) = match self.bytes.next().await {
                Some(chunk) => (
                    chunk
                        .map_err(store_error(format!("read {}", self.name)))?
                        .to_vec(),
                    false,
                ),
                None => (Vec::new(), true),
            };
            self.finished = last;
            if self.offset == 0 && raw.starts_with(b"PK\x03\x04") {
                return Err(ConnectorError::File {
                    object: self.name.clone(),
                    message:
                        "is a zip archive; zip is not supported (unzip it, or compress with gzip)"
                            .into(),
                });
            }
            let plain = match self.gzip.as_mut() {
                None => raw,
                Some(gzip) => {
                    let name = &self.name;
                    let gzip_error = |error: std::io::Error| ConnectorError::File {
                        object: name.clone(),
                        message: format!("is not valid gzip: {error}"),
                    };
                    gzip.write_all(&raw).map_err(gzip_error)?;
                    if last {
                        gzip.try_finish().map_err(gzip_error)?;
                    }
                    std::mem::take(gzip.get_mut())
                }
            };
            let mut text = self.decode(&plain, last)?;
            if self.first_chunk && !text.is_empty() {
                self.first_chunk = false;
                if text.starts_with(&[0xEF, 0xBB, 0xBF]) {
                    text.drain(..3);
                }
            }
            while self.lines_to_skip > 0 && !text.is_empty() {
                match text.iter().position(|byte| *byte == b'\n') {
                    Some(end) => {
                        text.drain(..=end);
                        self.lines_to_skip -= 1;
                    }
                    None => text.clear(),
                }
            }
            if !text.is_empty() || last {
                return Ok(if text.is_empty() { None } else { Some(text) });
            }
        }
    }

    fn decode(&mut self, bytes: &[u8], last: bool) -> Result<Vec<u8>> {
        let start_offset = self.offset;
        self.offset += bytes.len() as u64;
        let Some(decoder) = self.decoder.as_mut() else {
            return Ok(bytes.to_vec());
        };
        let mut output = String::with_capacity(
            decoder
                .max_utf8_buffer_length_without_replacement(bytes.len())
                .unwrap_or(bytes.len() * 3 + 16),
        );
        let mut consumed = 0;
        loop {
            let (result, read) =
                decoder.decode_to_string_without_replacement(&bytes[consumed..], &mut output, last);
            consumed += read;
            match result {
                DecoderResult::InputEmpty => return Ok(output.into_bytes()),
                DecoderResult::OutputFull => output.reserve(bytes.len().max(64)),
                DecoderResult::Malformed(_, _) => {
                    return Err(ConnectorError::File {
                        object: self.name.clone(),
                        message: format!(
                            "bytes near offset {} are not valid {}",
                            start_offset + consumed as u64,
                            decoder.encoding().name()
                        ),
                    })
                }
            }
        }
    }
}

/// Encodes UTF-8 `text` into `encoding` for writing.
///
/// # Errors
/// [`ConnectorError::File`] naming `object` when a character has no representation.
pub fn encode_text(
    text: &[u8],
    encoding: &'static encoding_rs::Encoding,
    object: &str,
) -> Result<Vec<u8>> {
    if encoding == encoding_rs::UTF_8 {
        return Ok(text.to_vec());
    }
    let unicode = std::str::from_utf8(text).map_err(|error| ConnectorError::File {
        object: object.to_string(),
        message: format!("text to write is not UTF-8: {error}"),
    })?;
    let mut encoder = encoding.new_encoder();
    let mut output = Vec::with_capacity(text.len() + 16);
    let mut consumed = 0;
    loop {
        output.reserve(
            encoder
                .max_buffer_length_from_utf8_without_replacement(unicode.len() - consumed)
                .unwrap_or(unicode.len() * 2 + 16),
        );
        let (result, read) = encoder.encode_from_utf8_to_vec_without_replacement(
            &unicode[consumed..],
            &mut output,
            true,
        );
        consumed += read;
        match result {
            encoding_rs::EncoderResult::InputEmpty => return Ok(output),
            encoding_rs::EncoderResult::OutputFull => {}
            encoding_rs::EncoderResult::Unmappable(character) => {
                return Err(ConnectorError::File {
                    object: object.to_string(),
                    message: format!(
                        "character {character:?} cannot be written in {}",
                        encoding.name()
                    ),
                })
            }
        }
    }
}

/// Bytes of text read, over every sampled object, to infer a schema.
pub const INFER_BYTES: usize = 8 << 20;

/// Most objects whose first records are sampled to infer a schema.
pub const INFER_FILES: usize = 8;

/// What schema inference samples of a CSV or JSON dataset: the first records of its first
/// objects (up to [`INFER_FILES`]), which share `infer_rows` records and [`INFER_BYTES`], so that
/// one part of a dataset written in parts does not decide alone.
pub struct InferSample<'a> {
    /// The sampled objects, in listing order.
    pub files: &'a [DataFile],
    /// Bytes read of each.
    pub bytes_each: usize,
    /// Records taken of each.
    pub rows_each: usize,
}

impl<'a> InferSample<'a> {
    /// Returns the sample of `files`, `None` when there are none.
    pub fn of(files: &'a [DataFile], infer_rows: usize) -> Option<Self> {
        let files = &files[..files.len().min(INFER_FILES)];
        let count = files.len();
        (count > 0).then(|| InferSample {
            files,
            bytes_each: INFER_BYTES / count,
            rows_each: (infer_rows / count).max(1),
        })
    }

    /// Reads the head of `file`: its text until at least `bytes_each` bytes or more than
    /// `max_lines` line ends are read, or it ends. Returns the text and whether the object goes
    /// on past it.
    ///
    /// # Errors
    /// Read and decoding errors naming the object.
    pub async fn head(
        &self,
        settings: &FileSettings,
        file: &DataFile,
        max_lines: usize,
    ) -> Result<(Vec<u8>, bool)> {
        let mut stream = TextStream::open(settings, file).await?;
        let mut head = Vec::new();
        let mut lines = 0usize;
        while let Some(chunk) = stream.next_chunk().await? {
            lines += chunk.iter().filter(|byte| **byte == b'\n').count();
            head.extend_from_slice(&chunk);
            if head.len() >= self.bytes_each || lines > max_lines {
                return Ok((head, true));
            }
        }
        Ok((head, false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gbk_round_trips_and_unmappable_characters_are_errors() {
        let encoded = encode_text("中文, ok".as_bytes(), encoding_rs::GBK, "x.csv").expect("gbk");
        let (decoded, _, had_errors) = encoding_rs::GBK.decode(&encoded);
        assert!(!had_errors);
        assert_eq!(decoded, "中文, ok");
        let error = encode_text("😀".as_bytes(), encoding_rs::GBK, "x.csv").expect_err("emoji");
        assert!(error.to_string().contains("x.csv"), "{error}");
    }
}
