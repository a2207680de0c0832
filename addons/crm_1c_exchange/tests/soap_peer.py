"""A scripted 1C web service on 127.0.0.1, speaking SOAP 1.1 document/
literal as 1C:Enterprise publishes it (WSDL at ?wsdl, soapAction
"<namespace>#<Service>:<Operation>", HTTP basic auth)."""
import base64
import http.server
import threading

from lxml import etree

NS = 'http://www.1c.ru/crm/exchange'
SOAP = 'http://schemas.xmlsoap.org/soap/envelope/'
WSDL = '''<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://schemas.xmlsoap.org/wsdl/"
 xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
 xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:tns="{ns}"
 targetNamespace="{ns}" name="CRMExchange">
 <types>
  <xs:schema targetNamespace="{ns}" elementFormDefault="qualified">
   <xs:element name="GetCatalog"><xs:complexType><xs:sequence/>
    </xs:complexType></xs:element>
   <xs:element name="GetCatalogResponse"><xs:complexType><xs:sequence>
    <xs:element name="return" type="xs:string"/></xs:sequence>
    </xs:complexType></xs:element>
   <xs:element name="PutOrders"><xs:complexType><xs:sequence>
    <xs:element name="Data" type="xs:string"/></xs:sequence>
    </xs:complexType></xs:element>
   <xs:element name="PutOrdersResponse"><xs:complexType><xs:sequence>
    <xs:element name="return" type="xs:boolean"/></xs:sequence>
    </xs:complexType></xs:element>
  </xs:schema>
 </types>
 <message name="GetCatalogRequestMessage">
  <part name="parameters" element="tns:GetCatalog"/></message>
 <message name="GetCatalogResponseMessage">
  <part name="parameters" element="tns:GetCatalogResponse"/></message>
 <message name="PutOrdersRequestMessage">
  <part name="parameters" element="tns:PutOrders"/></message>
 <message name="PutOrdersResponseMessage">
  <part name="parameters" element="tns:PutOrdersResponse"/></message>
 <portType name="CRMExchangePortType">
  <operation name="GetCatalog">
   <input message="tns:GetCatalogRequestMessage"/>
   <output message="tns:GetCatalogResponseMessage"/></operation>
  <operation name="PutOrders">
   <input message="tns:PutOrdersRequestMessage"/>
   <output message="tns:PutOrdersResponseMessage"/></operation>
 </portType>
 <binding name="CRMExchangeSoapBinding" type="tns:CRMExchangePortType">
  <soap:binding style="document"
   transport="http://schemas.xmlsoap.org/soap/http"/>
  <operation name="GetCatalog">
   <soap:operation soapAction="{ns}#CRMExchange:GetCatalog"/>
   <input><soap:body use="literal"/></input>
   <output><soap:body use="literal"/></output></operation>
  <operation name="PutOrders">
   <soap:operation soapAction="{ns}#CRMExchange:PutOrders"/>
   <input><soap:body use="literal"/></input>
   <output><soap:body use="literal"/></output></operation>
 </binding>
 <service name="CRMExchange">
  <port name="CRMExchangeSoap" binding="tns:CRMExchangeSoapBinding">
   <soap:address location="{location}"/></port>
 </service>
</definitions>
'''


def envelope(body):
    return ('<?xml version="1.0" encoding="UTF-8"?>'
        f'<soap:Envelope xmlns:soap="{SOAP}"><soap:Body>{body}'
        '</soap:Body></soap:Envelope>').encode('utf-8')


def authorised(handler, peer):
    """Whether the request of handler carries peer's user and password in
    HTTP basic auth; else answer 401 (counted) as 1C's web server does"""
    expected = 'Basic ' + base64.b64encode(
        f'{peer.user}:{peer.password}'.encode()).decode()
    if handler.headers.get('Authorization') == expected:
        return True
    peer.unauthorised += 1
    handler.send_response(401)
    handler.send_header('WWW-Authenticate', 'Basic realm="1C"')
    handler.send_header('Content-Length', '0')
    handler.end_headers()
    return False


class Peer:
    "Serve the catalog text; record the orders documents received"

    def __init__(self, catalog, user='ws', password='ws-pass'):
        self.catalog = catalog
        self.user, self.password = user, password
        self.received = []
        self.unauthorised = 0

    def __enter__(self):
        peer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def authorised(self):
                return authorised(self, peer)

            def reply(self, status, data, content_type):
                self.send_response(status)
                self.send_header('Content-Type', content_type)
                self.send_header('Content-Length', str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                if not self.authorised():
                    return
                self.reply(200, WSDL.format(ns=NS,
                        location=peer.location).encode(), 'text/xml')

            def do_POST(self):
                if not self.authorised():
                    return
                data = self.rfile.read(int(self.headers['Content-Length']))
                parser = etree.XMLParser(resolve_entities=False,
                    no_network=True)
                body = etree.fromstring(data, parser).find(
                    f'{{{SOAP}}}Body')[0]
                operation = etree.QName(body).localname
                if operation == 'GetCatalog':
                    text = (peer.catalog.replace('&', '&amp;')
                        .replace('<', '&lt;'))
                    answer = (f'<m:GetCatalogResponse xmlns:m="{NS}">'
                        f'<m:return>{text}</m:return>'
                        '</m:GetCatalogResponse>')
                elif operation == 'PutOrders':
                    peer.received.append(body.findtext(f'{{{NS}}}Data'))
                    answer = (f'<m:PutOrdersResponse xmlns:m="{NS}">'
                        '<m:return>true</m:return></m:PutOrdersResponse>')
                else:
                    return self.reply(500, envelope(
                            '<soap:Fault><faultcode>soap:Client</faultcode>'
                            '<faultstring>Unknown operation</faultstring>'
                            '</soap:Fault>'), 'text/xml')
                self.reply(200, envelope(answer), 'text/xml; charset=utf-8')

        self.server = http.server.ThreadingHTTPServer(('127.0.0.1', 0),
            Handler)
        port = self.server.server_address[1]
        self.location = f'http://127.0.0.1:{port}/base/ws/crm'
        self.wsdl = self.location + '?wsdl'
        self.thread = threading.Thread(target=self.server.serve_forever,
            daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *args):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
