# Telephony: calls from any PBX into the CRM.  Classes are registered from
# tryton.cfg; importing routes registers the PBX endpoints (once: not again
# when a test runner imports the folder under another name).
if __name__ == 'trytond.modules.crm_telephony':
    from . import routes

    __all__ = ['routes']
