// What a JVM BI tool (DBeaver, Metabase) asks through pgjdbc to draw its schema tree, then one
// prepared query with a parameter. Run by tests/test_pg_endpoint.py with Debian's pgjdbc jar:
//   java -cp postgresql.jar MetadataClient.java <jdbc url> <user> <password>
import java.sql.*;

public class MetadataClient {
  public static void main(String[] args) throws Exception {
    try (Connection connection = DriverManager.getConnection(args[0], args[1], args[2])) {
      DatabaseMetaData meta = connection.getMetaData();
      System.out.println("product\t" + meta.getDatabaseProductName() + "\t" + meta.getDatabaseProductVersion());
      try (ResultSet rows = meta.getSchemas()) {
        while (rows.next()) System.out.println("schema\t" + rows.getString("TABLE_SCHEM"));
      }
      String[] kinds = {"TABLE", "VIEW"};
      try (ResultSet rows = meta.getTables(null, "public", "%", kinds)) {
        while (rows.next()) System.out.println("table\t" + rows.getString("TABLE_NAME") + "\t" + rows.getString("TABLE_TYPE"));
      }
      try (ResultSet rows = meta.getColumns(null, "public", "products", "%")) {
        while (rows.next()) System.out.println("column\t" + rows.getString("COLUMN_NAME") + "\t" + rows.getString("TYPE_NAME"));
      }
      try (PreparedStatement query = connection.prepareStatement("SELECT id, price FROM products WHERE id < ? ORDER BY id")) {
        query.setInt(1, 3);
        try (ResultSet rows = query.executeQuery()) {
          while (rows.next()) System.out.println("row\t" + rows.getLong(1) + "\t" + rows.getDouble(2));
        }
      }
    }
  }
}
