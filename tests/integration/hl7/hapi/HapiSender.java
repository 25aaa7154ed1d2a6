// HAPI HL7v2 2.6.0 (ca.uhn.hapi:hapi-base, hapi-structures-v25 from Maven Central) as an independent
// sender to `samordna hl7 listen`: it parses each of our ACKs with its own parser and checks MSA-1
// and MSA-2. Run by hapi_test.sh.
//
//   java -cp CLASSPATH HapiSender PORT
//
// Sends: a v2.5 ADT^A01 built with HAPI's model (inpatient, expects AA), the same message again
// (expects AA, the stored ACK), an A13 (cancel discharge: dischargeCancelled, expects AA) and an
// A40 (merge patient, not taken: expects AR, code 201). Exit 0 when every ACK is as expected.

import ca.uhn.hl7v2.DefaultHapiContext;
import ca.uhn.hl7v2.HapiContext;
import ca.uhn.hl7v2.app.Connection;
import ca.uhn.hl7v2.app.Initiator;
import ca.uhn.hl7v2.model.Message;
import ca.uhn.hl7v2.parser.PipeParser;
import ca.uhn.hl7v2.util.Terser;
import ca.uhn.hl7v2.validation.impl.NoValidation;

public class HapiSender {
  static int failures = 0;

  static void expect(String what, String got, String want) {
    if (!want.equals(got)) {
      System.out.println("FAIL: " + what + ": got " + got + ", expected " + want);
      failures++;
    } else {
      System.out.println("ok: " + what + ": " + got);
    }
  }

  static String adt(String trigger, String controlId) {
    return "MSH|^~\\&|HAPI|HAPIHOSP|SAMORDNA|SE|20250310081500||ADT^" + trigger + "^ADT_A01|"
        + controlId + "|P|2.5\r"
        + "EVN|" + trigger + "|20250310081400\r"
        + "PID|1||191212121212^^^&1.2.752.129.2.1.3.1&ISO^NNSWE||Tolvansson^Tolvan||19121212|M|||"
        + "Gatan 1^^Stockholm^^11122^SE^H^^0180\r"
        + "PV1|1|I|MED3^^^SUS||||||||||||||||V-" + controlId + "\r";
  }

  public static void main(String[] args) throws Exception {
    int port = Integer.parseInt(args[0]);
    String tag = args.length > 1 ? args[1] : "H";
    HapiContext context = new DefaultHapiContext();
    context.setValidationContext(new NoValidation());
    PipeParser parser = context.getPipeParser();
    Connection connection = context.newClient("127.0.0.1", port, false);
    Initiator initiator = connection.getInitiator();
    initiator.setTimeout(20, java.util.concurrent.TimeUnit.SECONDS);

    String[][] cases = {
      {"A01", tag + "1", "AA", ""},
      {"A01", tag + "1", "AA", ""},  // a resend: the stored ACK
      {"A13", tag + "2", "AA", ""},
      {"A40", tag + "3", "AR", "201"},
    };
    for (String[] c : cases) {
      Message message = parser.parse(adt(c[0], c[1]));
      Message ack = initiator.sendAndReceive(message);
      Terser t = new Terser(ack);
      expect(c[0] + " " + c[1] + " MSA-1", t.get("/MSA-1"), c[2]);
      expect(c[0] + " " + c[1] + " MSA-2", t.get("/MSA-2"), c[1]);
      expect(c[0] + " " + c[1] + " MSH-9", t.get("/MSH-9-1"), "ACK");
      if (!c[3].isEmpty()) expect(c[0] + " ERR-3", t.get("/ERR-3-1"), c[3]);
    }
    connection.close();
    context.close();
    System.exit(failures == 0 ? 0 : 1);
  }
}
