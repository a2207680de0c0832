# Phone and e-mail normalisation shared by every channel (E.164, lower case).
import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat

from sql import Literal, NullsFirst

from trytond.pool import Pool
from trytond.transaction import Transaction


def default_regions(company=None):
    """Country codes to read a national number, most specific first:
    the configured phone region, then the countries of the company's
    addresses. Plain SQL: it runs for every phone written."""
    pool = Pool()
    ConfigurationCompany = pool.get('crm.configuration.company')
    Country = pool.get('country.country')
    Company = pool.get('company.company')
    Address = pool.get('party.address')
    if company is None:
        company = Transaction().context.get('company')
    if company is None or company < 0:
        return []
    config = ConfigurationCompany.__table__()
    country = Country.__table__()
    company_ = Company.__table__()
    address = Address.__table__()
    cursor = Transaction().connection.cursor()
    cursor.execute(*config.join(country,
            condition=config.phone_region == country.id
            ).select(country.code,
            where=config.company == company,
            order_by=[config.id.asc], limit=1))
    regions = [code for code, in cursor]
    cursor.execute(*company_.join(address,
            condition=address.party == company_.party
            ).join(country, condition=address.country == country.id
            ).select(country.code,
            where=(company_.id == company)
            & (address.active == Literal(True)),
            order_by=[NullsFirst(address.sequence.asc), address.id.asc]))
    for code, in cursor:
        if code not in regions:
            regions.append(code)
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
