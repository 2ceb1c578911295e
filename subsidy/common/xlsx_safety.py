"""What an uploaded .xlsx (or .csv) must pass before any of it is parsed (see
`subsidy.common.limits` for the caps and why).

`check_archive` reads the zip archive's directory only: the number of parts, each part's
uncompressed size and compression ratio, and all parts together; sizes are those the archive
declares, and Python's zipfile never produces more than a part declares (a part that would
unpack to more fails its CRC check), so they bound what parsing can take. Then the start of
each part, up to its root element, goes through expat (the parser openpyxl itself uses, through
defusedxml): a document type declaration there, the only place the XML grammar allows one and
the only way to declare entities (billion laughs, external entities), refuses the file. An
honest workbook never has one.
"""
from __future__ import annotations

import codecs
import csv
import io
import zipfile
import zlib
from xml.parsers import expat

from subsidy.common.limits import MB, PROLOG_BYTES, RATIO_FLOOR, SheetLimits
from subsidy.errors import ValidationError

SHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
STRINGS_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
CONTENT_TYPES = "[Content_Types].xml"
# Parts openpyxl never parses in read-only mode (pictures, embedded objects, printer settings):
# held by the total and the ratio only, so that a workbook with a photo in it is not refused.
NEVER_PARSED = ("xl/media/", "xl/embeddings/", "xl/printerSettings/")
NOT_A_WORKBOOK = "无法读取文件：它不是有效的 .xlsx 工作簿（可能已损坏，或是改了扩展名的其他文件）"
RESAVE = "请用 Excel 或 WPS 打开后重新“另存为” .xlsx 再上传"


def refuse(message: str, field: str = "file") -> ValidationError:
    return ValidationError(message, fields={field: message})


def broken_file(detail: str = "") -> ValidationError:
    where = f"（{detail}）" if detail else ""
    return refuse(f"文件已损坏：工作簿中的内容无法解析{where}，{RESAVE}")


def _mb(size: int) -> str:
    return f"{size / MB:,.1f} MB" if size >= MB else f"{size / 1024:,.0f} KB"


def check_archive(fileobj, limits: SheetLimits) -> None:
    """Refuse, with a message for the clerk, an archive bigger than `limits` allow or one whose
    XML declares a document type; leaves `fileobj` at 0."""
    try:
        fileobj.seek(0)
        with zipfile.ZipFile(fileobj) as archive:
            _check_sizes(archive, limits)
            for info in archive.infolist():
                if not info.is_dir():
                    _check_prolog(archive, info)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, EOFError, OSError,
            zlib.error, ValueError) as exc:
        # RuntimeError: an encrypted part; NotImplementedError: an unknown compression method.
        raise refuse(NOT_A_WORKBOOK) from exc
    finally:
        fileobj.seek(0)


def _check_sizes(archive: zipfile.ZipFile, limits: SheetLimits) -> None:
    infos = archive.infolist()
    if len(infos) > limits.parts:
        raise refuse(f"文件结构异常：压缩包中有 {len(infos):,} 个部件（上限 {limits.parts} 个），"
                     f"不是正常的 Excel 工作簿。{RESAVE}")
    total = sum(info.file_size for info in infos)
    if total > limits.total_bytes:
        raise refuse(f"文件解压后共 {_mb(total)}，超过上限 {_mb(limits.total_bytes)}：请拆分文件后分批导入")
    kinds = _part_kinds(archive, limits)
    for info in infos:
        size, name = info.file_size, info.filename
        if size > RATIO_FLOOR and size > limits.ratio * max(info.compress_size, 1):
            ratio = size // max(info.compress_size, 1)
            raise refuse(f"文件异常：其中“{name}”的压缩比为 {ratio:,}:1，超过上限 {limits.ratio}:1"
                         f"（疑似“压缩炸弹”），已拒绝。{RESAVE}")
        kind = kinds.get(name)
        if kind == "sheet" and size > limits.sheet_bytes:
            raise refuse(f"工作表太大：解压后 {_mb(size)}，超过上限 {_mb(limits.sheet_bytes)}"
                         f"（一次最多 {limits.rows:,} 行、{limits.columns} 列）：请拆分文件后分批导入")
        if kind == "strings" and size > limits.shared_strings_bytes:
            raise refuse(f"文件中的文字太多：解压后 {_mb(size)}，超过上限 {_mb(limits.shared_strings_bytes)}"
                         f"（是否有异常长的单元格？）：请检查或拆分文件后分批导入")
        if kind is None and size > limits.part_bytes and not name.startswith(NEVER_PARSED):
            raise refuse(f"文件中的“{name}”解压后 {_mb(size)}，超过上限 {_mb(limits.part_bytes)}，"
                         f"不是正常的 Excel 工作簿。{RESAVE}")


def _part_kinds(archive: zipfile.ZipFile, limits: SheetLimits) -> dict[str, str]:
    """{part name: "sheet" | "strings"} from the archive's content types, as openpyxl finds its
    shared strings (by content type); any part not named there gets the small cap of the
    other parts, so a misnamed part is held tighter, never looser."""
    try:
        info = archive.getinfo(CONTENT_TYPES)
    except KeyError:
        raise refuse(NOT_A_WORKBOOK) from None
    if info.file_size > limits.part_bytes:
        raise refuse(f"文件中的“{CONTENT_TYPES}”解压后 {_mb(info.file_size)}，超过上限 "
                     f"{_mb(limits.part_bytes)}，不是正常的 Excel 工作簿。{RESAVE}")
    _check_prolog(archive, info)
    kinds: dict[str, str] = {}

    def start(tag, attrs):
        if tag.rsplit("}", 1)[-1] != "Override":
            return
        kind = {SHEET_TYPE: "sheet", STRINGS_TYPE: "strings"}.get(attrs.get("ContentType", ""))
        if kind:
            kinds[attrs.get("PartName", "").lstrip("/")] = kind

    parser = expat.ParserCreate(namespace_separator="}")
    parser.StartElementHandler = start
    try:
        parser.Parse(archive.read(info), True)
    except expat.ExpatError as exc:
        raise broken_file(CONTENT_TYPES) from exc
    return kinds


class _Doctype(Exception):
    pass


class _Root(Exception):
    pass


def _check_prolog(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    """Parse the part up to its root element: a document type declaration refuses the file. A
    part that is not XML (an image) is left alone: openpyxl does not parse it in read-only mode,
    and if it did, it would fail there."""
    parser = expat.ParserCreate()

    def doctype(*_args):
        raise _Doctype

    def root(*_args):
        raise _Root

    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = doctype
    parser.StartElementHandler = root
    read = 0
    with archive.open(info) as part:
        try:
            while read < PROLOG_BYTES:
                block = part.read(4096)
                if not block:
                    parser.Parse(b"", True)
                    return
                read += len(block)
                parser.Parse(block, False)
        except _Doctype:
            raise refuse("文件中含有不允许的 XML 声明（DOCTYPE/ENTITY，可能是恶意构造的文件），已拒绝。"
                         f"{RESAVE}") from None
        except (_Root, expat.ExpatError):
            return
    if info.filename.lower().endswith((".xml", ".rels")):
        # Still before the root element after PROLOG_BYTES: nothing an honest part does.
        raise broken_file(info.filename)


# ---------------------------------------------------------------- CSV


def check_csv(fileobj, limits: SheetLimits, encodings=("utf-8-sig", "gb18030")) -> None:
    """The same caps for a .csv upload (rows, columns, cell length), read as a stream before the
    file is parsed for real; an encoding that cannot be read is left to the parser to report.
    Leaves `fileobj` at 0."""
    for encoding in encodings:
        fileobj.seek(0)
        try:
            _check_csv_rows(codecs.getreader(encoding)(fileobj), limits)
            break
        except UnicodeDecodeError:
            continue
        except csv.Error as exc:
            fileobj.seek(0)
            raise refuse(f"CSV 文件无法读取：{exc}") from exc
    fileobj.seek(0)


def _check_csv_rows(text: io.TextIOBase, limits: SheetLimits) -> None:
    # csv's own field size limit (131,072 characters, process-wide: left alone) bounds a cell
    # in memory; the import's cap is checked on what it lets through.
    rows = 0
    try:
        for number, record in enumerate(csv.reader(text), start=1):
            if len(record) > limits.columns and any(v.strip() for v in record[limits.columns:]):
                raise refuse(column_message(number, limits))
            for index, value in enumerate(record):
                if len(value) > limits.cell_chars:
                    raise refuse(cell_message(number, _letter(index), len(value), limits))
            if number > 1 and any(v.strip() for v in record):
                rows += 1
                if rows > limits.rows:
                    raise refuse(rows_message(limits))
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            raise refuse(f"CSV 文件中有单元格超过 {limits.cell_chars:,} 个字，超过上限") from exc
        raise


def _letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index + 1)


# ---------------------------------------------------------------- messages shared with SheetReader


def rows_message(limits: SheetLimits) -> str:
    return f"行数超过上限：一次最多导入 {limits.rows:,} 行（不含表头），请拆分文件后分批导入"


def column_message(row: int, limits: SheetLimits, letter: str = "") -> str:
    where = f"第 {row} 行第 {limits.columns + 1} 列{f'（{letter} 列）' if letter else ''}"
    return f"列数超过上限：{where}还有内容，每行最多 {limits.columns} 列，请删去多余的列"


def cell_message(row: int, letter: str, length: int, limits: SheetLimits) -> str:
    return (f"单元格内容太长：第 {row} 行 {letter} 列有 {length:,} 个字，每个单元格最多 "
            f"{limits.cell_chars:,} 个字")
