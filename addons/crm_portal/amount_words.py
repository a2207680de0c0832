# Total in words for printed documents: «Сто двадцать рублей 50 копеек».
from decimal import ROUND_HALF_UP, Decimal

from num2words import num2words

# Per language and currency: (main unit forms, fraction unit forms, gender
# of the main unit).  Russian forms are (1, 2-4, 5-20); English (1, many).
_UNITS = {
    'ru': {
        'RUB': (('рубль', 'рубля', 'рублей'),
            ('копейка', 'копейки', 'копеек')),
        'USD': (('доллар', 'доллара', 'долларов'),
            ('цент', 'цента', 'центов')),
        'EUR': (('евро', 'евро', 'евро'), ('цент', 'цента', 'центов')),
        'GBP': (('фунт стерлингов', 'фунта стерлингов', 'фунтов стерлингов'),
            ('пенни', 'пенни', 'пенни')),
        'CNY': (('юань', 'юаня', 'юаней'), ('фэнь', 'фэня', 'фэней')),
        'KZT': (('тенге', 'тенге', 'тенге'), ('тиын', 'тиына', 'тиынов')),
        'BYN': (('белорусский рубль', 'белорусских рубля',
                    'белорусских рублей'),
            ('копейка', 'копейки', 'копеек')),
        },
    'en': {
        'RUB': (('rouble', 'roubles'), ('kopeck', 'kopecks')),
        'USD': (('dollar', 'dollars'), ('cent', 'cents')),
        'EUR': (('euro', 'euros'), ('cent', 'cents')),
        'GBP': (('pound', 'pounds'), ('penny', 'pence')),
        'CNY': (('yuan', 'yuan'), ('fen', 'fen')),
        'KZT': (('tenge', 'tenge'), ('tiyn', 'tiyn')),
        'BYN': (('Belarusian rouble', 'Belarusian roubles'),
            ('kopeck', 'kopecks')),
        },
    }
_MINUS = {'ru': 'минус', 'en': 'minus'}
_AND = {'ru': '', 'en': 'and'}


def plural_ru(number, forms):
    "Pick the Russian form for number: 1 рубль, 2 рубля, 5 рублей"
    number = abs(int(number))
    if number % 10 == 1 and number % 100 != 11:
        return forms[0]
    if 2 <= number % 10 <= 4 and not 12 <= number % 100 <= 14:
        return forms[1]
    return forms[2]


def _plural(lang, number, forms):
    if lang == 'ru':
        return plural_ru(number, forms)
    return forms[0] if number == 1 else forms[1]


def _language(lang):
    lang = (lang or 'en').replace('-', '_').split('_')[0].lower()
    try:
        num2words(1, lang=lang)
    except NotImplementedError:
        lang = 'en'
    return lang


def _words(number, lang):
    words = num2words(number, lang=lang)
    if lang == 'en':
        # "one hundred twenty", the way amounts are written on cheques
        words = words.replace(',', '').replace(' and ', ' ')
    return words


def amount_in_words(amount, currency_code, lang):
    """Return amount spelled out in lang with the currency units.

    The main unit is in words, the fraction in two digits.  An unknown
    currency gives the number in words followed by the fraction and the
    currency code."""
    lang = _language(lang)
    code = (currency_code or '').upper()
    amount = Decimal(str(amount or 0)).quantize(
        Decimal('0.01'), rounding=ROUND_HALF_UP)
    negative = amount < 0
    amount = abs(amount)
    units = int(amount)
    cents = int((amount - units) * 100)
    words = _words(units, lang)
    forms = _UNITS.get(lang, {}).get(code)
    if forms:
        main, fraction = forms
        text = ' '.join(filter(None, [
                    words, _plural(lang, units, main),
                    _AND.get(lang, ''), '%02d' % cents,
                    _plural(lang, cents, fraction)]))
    else:
        text = ' '.join(filter(None, [words, '%02d/100' % cents, code]))
    if negative:
        text = '%s %s' % (_MINUS.get(lang, 'minus'), text)
    return text[:1].upper() + text[1:]
