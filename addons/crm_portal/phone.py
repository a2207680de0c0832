# Phone and e-mail normalisation shared by every channel (E.164, lower case).
import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat

from trytond.pool import Pool
from trytond.transaction import Transaction


def default_regions(company=None):
    "Country codes to read a national number, most specific first"
    pool = Pool()
    Configuration = pool.get('crm.configuration')
    Company = pool.get('company.company')
    if company is None:
        company = Transaction().context.get('company')
    regions = []
    if company is not None and company >= 0:
        region = Configuration(1).get_multivalue(
            'phone_region', company=company)
        if region:
            regions.append(region.code)
        for address in Company(company).party.addresses:
            if address.country and address.country.code not in regions:
                regions.append(address.country.code)
    return regions


def normalize_phone(value, regions=None):
    """Return the E.164 form of value or None when it cannot be read.

    regions are tried in order for numbers without an international prefix.
    """
    if not value or not value.strip():
        return None
    if regions is None:
        regions = default_regions()
    for region in list(regions) + [None]:
        try:
            number = phonenumbers.parse(value, region)
        except NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, PhoneNumberFormat.E164)
    return None


def normalize_email(value):
    "Lower case, trimmed e-mail or None"
    if not value or '@' not in value:
        return None
    return value.strip().lower()
