# Portal features of a tenant and the Tryton modules that provide them.
from collections import OrderedDict

# A tenant turns a feature on by activating its module in its database.
FEATURES = OrderedDict([
        ('portal', 'crm_portal'),
        ('telephony', 'crm_telephony'),
        ('openlines', 'crm_openlines'),
        ('exchange_1c', 'crm_1c_exchange'),
        ('sites', 'crm_sites'),
        ])
# What each feature adds, for the command line; the web client shows the
# same text translated (ir.message msg_feature_<name>[_description]).
DESCRIPTIONS = OrderedDict([
        ('portal', ("CRM", "Leads, deals, contacts, companies, timeline, "
                "quotes and invoices, automation, analytics, REST API and "
                "webhooks")),
        ('telephony', ("Telephony", "Calls from PBXs and SIP trunks, "
                "caller ID, click-to-call, recordings, telephony REST "
                "methods and PBX webhooks")),
        ('openlines', ("Open lines", "Chats from the site widget and "
                "messengers in one queue, operators, conversation "
                "history")),
        ('exchange_1c', ("1C exchange", "CommerceML exchange with 1C: "
                "catalog and prices in, orders out, statuses back, "
                "scheduled exchange")),
        ('sites', ("Sites", "Landing pages and CRM web forms published "
                "from the CRM, form submissions become leads")),
        ])
# Always on: the other features build on it.
CORE_FEATURE = 'portal'
ALL = 'all'


class FeatureError(ValueError):
    "A feature name or set that cannot be used"


def module_of(feature):
    return FEATURES[feature]


def feature_of(module):
    for feature, name in FEATURES.items():
        if name == module:
            return feature


def package_of(feature):
    "The distribution that installs the module of feature"
    return 'trytond-' + FEATURES[feature].replace('_', '-')


def installed_modules():
    "Names of the Tryton modules installed in this environment"
    from trytond.modules import get_modules
    return get_modules()


def installed_features(modules=None):
    if modules is None:
        modules = installed_modules()
    return [f for f, m in FEATURES.items() if m in modules]


def parse(values, installed=None, allow_all=True):
    """Return the feature names listed in values, in FEATURES order.

    values is a string or a list of strings, each comma-separated.
    'all' means every feature whose module is installed.
    Raises FeatureError for an unknown name or a feature whose module is
    not installed."""
    if isinstance(values, str):
        values = [values]
    names = []
    for value in values or []:
        names.extend(n.strip().lower() for n in value.split(',') if n.strip())
    if installed is None:
        installed = installed_modules()
    selected = set()
    for name in names:
        if name == ALL and allow_all:
            selected.update(installed_features(installed))
            continue
        if name not in FEATURES:
            valid = ', '.join(list(FEATURES) + ([ALL] if allow_all else []))
            raise FeatureError(
                f"unknown feature '{name}'; valid features: {valid}")
        if FEATURES[name] not in installed:
            raise FeatureError(
                f"feature '{name}' needs the module {FEATURES[name]}, "
                f"which is not installed here "
                f"(install the package {package_of(name)})")
        selected.add(name)
    return [f for f in FEATURES if f in selected]


def features_of_modules(modules):
    "Features of a tenant whose activated modules are modules"
    return [f for f, m in FEATURES.items() if m in modules]
