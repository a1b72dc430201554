"""Contact and billing validation that explains each field (P1).

`validate_contact` checks every field it is given and reports *all* problems at once, as one
`InvalidInput` whose `errors` name each field (`body.phone`, `body.vat_id` …) with a stable code
and a message that never echoes the submitted value (it is personal data).

What is checked, and how:

- names, company, address lines, city: any Unicode a person may have (normalised to NFC),
  trimmed, bounded in length; control characters (Unicode category Cc, line/paragraph
  separators) are refused;
- country: ISO 3166-1 alpha-2 (`pycountry`), stored upper-case;
- region: an ISO 3166-2 subdivision *of that country*, given as its code (`DE-BY` or `BY`) or
  its name (`Bayern`); stored as the full code. Countries without subdivisions in ISO 3166-2
  accept none;
- postal code: checked against `POSTAL_CODE_FORMATS` where the country has a known format
  (otherwise trimmed, bounded, no control characters); stored upper-case;
- phone: parsed with `phonenumbers` using the country as the default region (so a national
  number works), must be a valid number, stored as E.164;
- VAT id: for EU countries (and Northern Ireland, `XI`) `stdnum.eu.vat` checks format and check
  digits and the prefix must match the country (`EL` for Greece); the country prefix is added
  when missing. Elsewhere the country's `stdnum` VAT module is used where one exists (GB, CH,
  NO, AU …), else the id is trimmed and must be 2-32 letters, digits, dots, dashes, slashes;
- currency: ISO 4217 (`pycountry.currencies`); language: ISO 639-1 (`pycountry.languages`);
- date of birth: optional, not in the future, age 16-120.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from datetime import date
from typing import Any

import phonenumbers
import pycountry
from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.util import get_cc_module

from app.auth.service import normalize_email
from app.core.errors import FieldError, InvalidInput

# Field -> maximum length after trimming (the columns' widths or sensible bounds).
TEXT_LIMITS: dict[str, int] = {
    "first_name": 100,
    "last_name": 100,
    "company": 200,
    "address_line1": 200,
    "address_line2": 200,
    "city": 100,
}
REQUIRED_TEXT = frozenset({"first_name", "last_name"})
POSTAL_CODE_MAX = 16
VAT_ID_MAX = 32
MIN_AGE = 16
MAX_AGE = 120

# Postal code formats of common countries (upper-cased input, inner spaces kept as typed but
# normalised to one). Countries not listed accept any short code without control characters.
POSTAL_CODE_FORMATS: dict[str, re.Pattern[str]] = {
    code: re.compile(pattern)
    for code, pattern in {
        "DE": r"\d{5}",
        "AT": r"\d{4}",
        "CH": r"\d{4}",
        "LI": r"\d{4}",
        "FR": r"\d{5}",
        "NL": r"\d{4} ?[A-Z]{2}",
        "BE": r"\d{4}",
        "LU": r"(L-)?\d{4}",
        "GB": r"[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}",
        "US": r"\d{5}(-\d{4})?",
        "CA": r"[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z] ?\d[ABCEGHJ-NPRSTV-Z]\d",
        "IT": r"\d{5}",
        "ES": r"\d{5}",
        "PT": r"\d{4}-\d{3}",
        "PL": r"\d{2}-\d{3}",
        "CZ": r"\d{3} ?\d{2}",
        "SK": r"\d{3} ?\d{2}",
        "SE": r"\d{3} ?\d{2}",
        "DK": r"\d{4}",
        "NO": r"\d{4}",
        "FI": r"\d{5}",
        # Eircode: routing key (A65, D6W) and an optional unique identifier.
        "IE": r"(?:[AC-FHKNPRTV-Y]\d{2}|D6W)(?: ?[0-9AC-FHKNPRTV-Y]{4})?",
        "AU": r"\d{4}",
        "JP": r"\d{3}-?\d{4}",
        "BR": r"\d{5}-?\d{3}",
        "IN": r"\d{6}",
    }.items()
}

_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})
_GENERIC_VAT = re.compile(r"[A-Z0-9./-]{2,32}")
# The VAT prefix differs from the ISO code for Greece.
_VAT_PREFIX = {"GR": "EL"}


def _has_control(text: str) -> bool:
    return any(unicodedata.category(ch) in _FORBIDDEN_CATEGORIES for ch in text)


def country_code(value: Any) -> str | None:
    """The ISO 3166-1 alpha-2 code (upper-cased) `value` names, or None if it names none."""
    code = str(value).strip().upper()
    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        return None
    return code


def subdivision_code(country: str, value: str) -> str | None:
    """The full ISO 3166-2 code (`DE-BY`) of the subdivision of `country` that `value` names,
    as its code (`DE-BY` or `BY`) or its name (`Bayern`); None if it is not one of them."""
    raw = value.strip()
    subdivisions = pycountry.subdivisions.get(country_code=country) or []  # type: ignore[no-untyped-call]
    wanted = raw.upper()
    full = wanted if wanted.startswith(f"{country}-") else f"{country}-{wanted}"
    for subdivision in subdivisions:
        if subdivision.code.upper() == full or subdivision.name.casefold() == raw.casefold():
            return str(subdivision.code)
    return None


def currency_code(value: Any) -> str | None:
    """The ISO 4217 code (upper-cased) `value` names, or None if it names none."""
    code = str(value).strip().upper()
    if len(code) != 3 or pycountry.currencies.get(alpha_3=code) is None:
        return None
    return code


class _Collector:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.errors: list[FieldError] = []

    def add(self, name: str, code: str, message: str) -> None:
        self.errors.append(FieldError(field=f"{self.prefix}.{name}", code=code, message=message))


def _text(out: _Collector, name: str, value: Any) -> str | None:
    if value is None:
        if name in REQUIRED_TEXT:
            out.add(name, "required", "This field is required.")
        return None
    if not isinstance(value, str):
        out.add(name, "string_type", "Must be text.")
        return None
    text = unicodedata.normalize("NFC", value).strip()
    if _has_control(text):
        out.add(name, "control_characters", "Control characters are not allowed.")
        return None
    if not text:
        if name in REQUIRED_TEXT:
            out.add(name, "required", "This field is required.")
        return None
    limit = TEXT_LIMITS[name]
    if len(text) > limit:
        out.add(name, "too_long", f"Use at most {limit} characters.")
        return None
    return text


def _country(out: _Collector, value: Any) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        out.add("country", "required", "The country is required (ISO 3166-1 alpha-2, e.g. DE).")
        return None
    code = country_code(value)
    if code is None:
        out.add("country", "country_unknown", "Use an ISO 3166-1 alpha-2 country code, e.g. DE.")
    return code


def _region(out: _Collector, value: Any, country: str | None) -> str | None:
    if value is None or not str(value).strip():
        return None
    raw = str(value).strip()
    if _has_control(raw):
        out.add("region", "control_characters", "Control characters are not allowed.")
        return None
    if country is None:
        return None  # the country's own error says what to fix first
    code = subdivision_code(country, raw)
    if code is not None:
        return code
    out.add(
        "region",
        "region_not_in_country",
        "Use an ISO 3166-2 subdivision of the chosen country (e.g. DE-BY).",
    )
    return None


def _postal_code(out: _Collector, value: Any, country: str | None) -> str | None:
    if value is None or not str(value).strip():
        return None
    code = " ".join(str(value).upper().split())
    if _has_control(str(value)) or len(code) > POSTAL_CODE_MAX:
        out.add("postal_code", "postal_code_invalid", "This is not a valid postal code.")
        return None
    pattern = POSTAL_CODE_FORMATS.get(country or "")
    if pattern is not None and not pattern.fullmatch(code):
        out.add(
            "postal_code",
            "postal_code_invalid",
            f"This is not a valid postal code for {country}.",
        )
        return None
    return code


def _phone(out: _Collector, value: Any, country: str | None) -> str | None:
    if value is None or not str(value).strip():
        return None
    raw = str(value).strip()
    if _has_control(raw) or len(raw) > 40:
        out.add("phone", "phone_invalid", "This is not a valid phone number.")
        return None
    try:
        number = phonenumbers.parse(raw, country)
    except phonenumbers.NumberParseException:
        out.add(
            "phone",
            "phone_invalid",
            "This is not a phone number; use the international form, e.g. +49 30 1234567.",
        )
        return None
    if not phonenumbers.is_valid_number(number):
        where = f" for {country}" if country and not raw.startswith("+") else ""
        out.add("phone", "phone_invalid", f"This is not a valid phone number{where}.")
        return None
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def _vat_id(out: _Collector, value: Any, country: str | None) -> str | None:
    if value is None or not str(value).strip():
        return None
    raw = str(value)
    if _has_control(raw) or len(raw) > 64:
        out.add("vat_id", "vat_id_invalid", "This is not a valid VAT id.")
        return None
    compact = re.sub(r"[\s.,-]", "", raw).upper()
    if country is None:
        return None
    prefix = _VAT_PREFIX.get(country, country)
    allowed = {prefix, "XI"} if country == "GB" else {prefix}
    if country.lower() in eu_vat.MEMBER_STATES or (country == "GB" and compact.startswith("XI")):
        if compact[:2].isalpha():
            if compact[:2] not in allowed:
                out.add(
                    "vat_id",
                    "vat_id_country_mismatch",
                    f"The VAT id's country prefix does not match the country ({prefix}).",
                )
                return None
        else:
            compact = prefix + compact
        try:
            return str(eu_vat.validate(compact))
        except StdnumError as exc:
            out.add("vat_id", _stdnum_code(exc), f"This is not a valid VAT id: {exc}")
            return None
    module = get_cc_module(country.lower(), "vat")
    if module is not None:
        number = compact[2:] if compact.startswith(prefix) else compact
        try:
            return f"{prefix}{module.validate(number)}"
        except StdnumError as exc:
            out.add("vat_id", _stdnum_code(exc), f"This is not a valid VAT id: {exc}")
            return None
    if not _GENERIC_VAT.fullmatch(compact) or len(compact) > VAT_ID_MAX:
        out.add("vat_id", "vat_id_invalid", "Use 2 to 32 letters and digits.")
        return None
    return compact


def _stdnum_code(exc: StdnumError) -> str:
    name = type(exc).__name__  # InvalidChecksum, InvalidFormat, InvalidLength, InvalidComponent
    return {
        "InvalidChecksum": "vat_id_checksum",
        "InvalidLength": "vat_id_length",
    }.get(name, "vat_id_invalid")


def _currency(out: _Collector, value: Any) -> str | None:
    code = currency_code(value)
    if code is None:
        out.add("currency", "currency_unknown", "Use an ISO 4217 currency code, e.g. EUR.")
    return code


def _language(out: _Collector, value: Any) -> str | None:
    code = str(value).strip().lower()
    if len(code) != 2 or pycountry.languages.get(alpha_2=code) is None:
        out.add("language", "language_unknown", "Use an ISO 639-1 language code, e.g. de.")
        return None
    return code


def _date_of_birth(out: _Collector, value: Any, today: date) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            out.add("date_of_birth", "date_invalid", "Use a date like 1990-04-30.")
            return None
    if not isinstance(value, date):
        out.add("date_of_birth", "date_invalid", "Use a date like 1990-04-30.")
        return None
    if value > today:
        out.add("date_of_birth", "date_in_future", "The date of birth is in the future.")
        return None
    age = today.year - value.year - ((today.month, today.day) < (value.month, value.day))
    if not MIN_AGE <= age <= MAX_AGE:
        out.add(
            "date_of_birth",
            "age_out_of_range",
            f"Customers must be between {MIN_AGE} and {MAX_AGE} years old.",
        )
        return None
    return value.isoformat()


CONTACT_FIELDS = (
    "first_name",
    "last_name",
    "company",
    "email",
    "phone",
    "address_line1",
    "address_line2",
    "city",
    "postal_code",
    "region",
    "country",
    "vat_id",
    "tax_exempt",
    "currency",
    "language",
    "date_of_birth",
)


def contact_errors(
    values: Mapping[str, Any], *, today: date, prefix: str = "body"
) -> tuple[dict[str, Any], list[FieldError]]:
    """Normalise the given fields; return the clean values and every error found.

    Only the keys present in `values` are checked (country is always needed by the checks that
    depend on it: pass the record's current country when it is not being changed)."""
    out = _Collector(prefix)
    clean: dict[str, Any] = {}
    country: str | None = None
    if "country" in values:
        country = _country(out, values["country"])
        clean["country"] = country
    for name in TEXT_LIMITS:
        if name in values:
            clean[name] = _text(out, name, values[name])
    if "email" in values:
        try:
            clean["email"] = normalize_email(str(values["email"]), field=f"{prefix}.email")
        except InvalidInput as exc:
            out.errors.extend(exc.errors)
    if "phone" in values:
        clean["phone"] = _phone(out, values["phone"], country)
    if "region" in values:
        clean["region"] = _region(out, values["region"], country)
    if "postal_code" in values:
        clean["postal_code"] = _postal_code(out, values["postal_code"], country)
    if "vat_id" in values:
        clean["vat_id"] = _vat_id(out, values["vat_id"], country)
    if "tax_exempt" in values:
        clean["tax_exempt"] = bool(values["tax_exempt"])
    if "currency" in values:
        clean["currency"] = _currency(out, values["currency"])
    if "language" in values:
        clean["language"] = _language(out, values["language"])
    if "date_of_birth" in values:
        clean["date_of_birth"] = _date_of_birth(out, values["date_of_birth"], today)
    return clean, out.errors


def validate_contact(
    values: Mapping[str, Any], *, today: date, prefix: str = "body"
) -> dict[str, Any]:
    """`contact_errors`, raising one `InvalidInput` naming every invalid field."""
    clean, errors = contact_errors(values, today=today, prefix=prefix)
    if errors:
        raise InvalidInput(errors)
    return clean
