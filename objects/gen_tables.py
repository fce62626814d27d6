#!/usr/bin/env python3
"""Generates objects/oma/oma_N.h from the OMA object XML objects/xml/N.xml.

Each header holds what an object needs from its XML and nothing else: the object
version, whether it has multiple instances, one RID constant per resource (named
after the XML <Name>, with the XML facts in a comment) and the sorted
struct dm_res_def table that dm.c checks operations and types against.

The headers are checked in so that building needs no Python; CI runs --check to
catch a header that no longer matches its XML or this script.

Usage:
    gen_tables.py [XML ...]            write the header of each XML (default: all)
    gen_tables.py --check [XML ...]    exit 1 if a checked-in header differs
Standard library only.
"""

import argparse
import os
import re
import sys
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
XML_DIR = os.path.join(HERE, "xml")
OUT_DIR = os.path.join(HERE, "oma")
MAX_COLS = 100

OPS = {
    "R": "DM_OP_R",
    "W": "DM_OP_W",
    "RW": "DM_OP_R | DM_OP_W",
    "E": "DM_OP_E",
    "": "0",
}

TYPES = {
    "string": "DM_T_STRING",
    "integer": "DM_T_INT",
    "unsigned integer": "DM_T_UINT",
    "float": "DM_T_FLOAT",
    "boolean": "DM_T_BOOL",
    "opaque": "DM_T_OPAQUE",
    "time": "DM_T_TIME",
    "objlnk": "DM_T_OBJLNK",
    "corelnk": "DM_T_CORELNK",
    "": "DM_T_NONE",
}

# Words whose capitals are not word boundaries ("LwM2M" is one word, not LW_M2_M).
KEEP_WORDS = {"lwm2m": "LWM2M"}


class XmlError(Exception):
    pass


def text(elem, tag, default=None):
    """The stripped text of child tag; default if the child is absent."""
    child = elem.find(tag)
    if child is None:
        if default is None:
            raise XmlError("missing <%s>" % tag)
        return default
    return (child.text or "").strip()


def snake(name):
    """Upper snake case of an XML name, made a valid C identifier tail.

    "Model Number" -> MODEL_NUMBER, "GetAuthData" -> GET_AUTH_DATA,
    "DTLS/TLS Ciphersuite" -> DTLS_TLS_CIPHERSUITE, "SignalSNR" -> SIGNAL_SNR.
    """
    words = []
    for word in re.split(r"[^0-9A-Za-z]+", name):
        if not word:
            continue
        if word.lower() in KEEP_WORDS:
            words.append(KEEP_WORDS[word.lower()])
            continue
        # Split camel case at a lower-to-upper step and before the last capital of
        # an acronym that starts a new word ("SNRValue" -> SNR_Value).
        word = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", word)
        word = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", word)
        words.append(word.upper())
    return "_".join(words) or "RES"


def c_string(s):
    out = []
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif 0x20 <= ord(ch) < 0x7F:
            out.append(ch)
        else:
            # Octal escapes of the UTF-8 bytes: no ambiguity with a following hex digit.
            out.extend("\\%03o" % b for b in ch.encode("utf-8"))
    return '"' + "".join(out) + '"'


def parse(path):
    """Returns (oid, version, multi, resources) of one object XML file."""
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as e:
        raise XmlError(str(e))
    obj = root.find("Object")
    if obj is None:
        raise XmlError("no <Object>")
    try:
        oid = int(text(obj, "ObjectID"))
    except ValueError:
        raise XmlError("<ObjectID> is not a number")
    version = text(obj, "ObjectVersion", "") or "1.0"
    if not re.fullmatch(r"[0-9]+\.[0-9]+", version):
        raise XmlError("<ObjectVersion> %r is not MAJOR.MINOR" % version)
    multi = text(obj, "MultipleInstances") == "Multiple"
    items = obj.find("Resources")
    if items is None:
        raise XmlError("no <Resources>")
    res = []
    seen = set()
    for item in items.findall("Item"):
        try:
            rid = int(item.get("ID", ""))
        except ValueError:
            raise XmlError("<Item ID=%r> is not a number" % item.get("ID"))
        if not 0 <= rid <= 0xFFFE or rid in seen:
            raise XmlError("resource ID %d is out of range or repeated" % rid)
        seen.add(rid)
        name = " ".join(text(item, "Name").split())
        ops = text(item, "Operations", "")
        if ops not in OPS:
            raise XmlError("resource %d: unknown <Operations> %r" % (rid, ops))
        rtype = text(item, "Type", "")
        if rtype.lower() not in TYPES:
            raise XmlError("resource %d: unknown <Type> %r" % (rid, rtype))
        res.append({
            "id": rid,
            "name": name,
            "ops": ops,
            "multiple": text(item, "MultipleInstances") == "Multiple",
            "mandatory": text(item, "Mandatory") == "Mandatory",
            "type": rtype.lower(),
        })
    res.sort(key=lambda r: r["id"])
    return oid, version, multi, res


def render(path):
    """Returns (header file name, header text) for one XML file."""
    oid, version, multi, res = parse(path)
    prefix = "OMA_%d_" % oid
    used = {}
    for r in res:
        ident = prefix + snake(r["name"])
        if ident in used:
            ident = "%s_%d" % (ident, r["id"])
        used[ident] = r
        r["ident"] = ident

    src = os.path.relpath(os.path.abspath(path), ROOT)
    guard = "OMA_%d_H" % oid
    out = [
        "/* Generated by objects/gen_tables.py from %s: do not edit. */" % src,
        "#ifndef %s" % guard,
        "#define %s" % guard,
        "",
        "#include <stdbool.h>",
        "",
        '#include "dm.h"',
        "",
        '#define OMA_%d_VERSION "%s"' % (oid, version),
        "#define OMA_%d_MULTI %s" % (oid, "true" if multi else "false"),
        "",
        "enum {",
    ]
    # Comments are aligned on the longest declaration whose line still fits in the
    # 100 columns (a tab counts 8); a longer one gets its comment on the line above.
    facts = {}
    for r in res:
        facts[r["id"]] = "/* %s, %s, %s, %s */" % (
            r["ops"] or "none", "multiple" if r["multiple"] else "single",
            "mandatory" if r["mandatory"] else "optional", r["type"] or "none")
    decls = {r["id"]: "%s = %d," % (r["ident"], r["id"]) for r in res}
    width = max((len(decls[i]) for i in decls if 8 + len(decls[i]) + 1 + len(facts[i]) <= MAX_COLS),
                default=0)
    for r in res:
        decl, fact = decls[r["id"]], facts[r["id"]]
        if len(decl) <= width and 8 + width + 1 + len(fact) <= MAX_COLS:
            out.append("\t%s%s" % (decl.ljust(width + 1), fact))
        elif 8 + len(decl) + 1 + len(fact) <= MAX_COLS:
            out.append("\t%s %s" % (decl, fact))
        else:
            out.append("\t" + fact)
            out.append("\t" + decl)
    out.append("};")
    out.append("")
    out.append("static const struct dm_res_def oma_%d_res[] = {" % oid)
    for r in res:
        # Two lines per row: one never fits in 100 columns.
        out.append("\t{ .id = %d, .ops = %s, .multiple = %s, .mandatory = %s," % (
            r["id"], OPS[r["ops"]], str(r["multiple"]).lower(), str(r["mandatory"]).lower()))
        out.append("\t  .type = %s, .name = %s }," % (TYPES[r["type"]], c_string(r["name"])))
    out.append("};")
    out.append("")
    out.append("#endif")
    return "oma_%d.h" % oid, "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description="Generate objects/oma/oma_N.h from OMA XML.")
    ap.add_argument("--check", action="store_true",
                    help="do not write; exit 1 if a checked-in header differs")
    ap.add_argument("xml", nargs="*", help="object XML files (default: objects/xml/*.xml)")
    args = ap.parse_args()

    paths = args.xml or sorted(
        (os.path.join(XML_DIR, f) for f in os.listdir(XML_DIR) if f.endswith(".xml")),
        key=lambda p: (len(p), p))
    stale = 0
    for path in paths:
        try:
            name, body = render(path)
        except XmlError as e:
            print("%s: %s" % (path, e), file=sys.stderr)
            return 2
        dest = os.path.join(OUT_DIR, name)
        try:
            with open(dest, encoding="utf-8") as f:
                old = f.read()
        except FileNotFoundError:
            old = None
        if old == body:
            continue
        if args.check:
            print("%s: %s; run python3 objects/gen_tables.py %s" % (
                os.path.relpath(dest, ROOT), "missing" if old is None else "out of date",
                os.path.relpath(os.path.abspath(path), ROOT)), file=sys.stderr)
            stale += 1
            continue
        os.makedirs(OUT_DIR, exist_ok=True)
        tmp = dest + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(body)
        os.replace(tmp, dest)
        print("wrote %s" % os.path.relpath(dest, ROOT))
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
