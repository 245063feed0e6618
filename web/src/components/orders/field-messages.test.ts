import { describe, expect, it } from "vitest";

import { orderFieldErrors, orderFieldMessage } from "./field-messages";

describe("orderFieldMessage", () => {
  it.each([
    // FastAPI (pydantic) messages for each field, and the orders service's own
    ["items.0.quantity", "Input should be greater than or equal to 1", "quantity", "Enter a quantity of at least 1."],
    ["items.0.quantity", "Input should be less than or equal to 100", "quantity", "You can order at most 100 at a time."],
    ["items.0.quantity", "Input should be a valid integer", "quantity", "Enter a whole number from 1 to 7."],
    ["items", "List should have at least 1 item after validation, not 0", "quantity", "Enter a quantity of at least 1."],
    ["items.0.quantity", "Only 3 of item 5 in stock; 4 requested.", "quantity", "Only 3 left in stock, and you asked for 4. Choose 3 or fewer."],
    ["items.0.quantity", "Only 0 of item 5 in stock; 1 requested.", "quantity", "This item is out of stock."],
    ["customer_email", "Must be a valid email address.", "email", "Enter an email address in the form name@example.com."],
    ["customer_email", "String should have at most 254 characters", "email", "An email address can be at most 254 characters long."],
    ["customer_email", "Field required", "email", "Enter your email address."],
    ["customer_email", "Input should be a valid string", "email", "Enter an email address in the form name@example.com."],
    ["note", "String should have at most 500 characters", "note", "Keep the note to 500 characters or fewer."],
    ["items.0.item_id", "Item 9 does not exist.", "", "This product is no longer in the catalog, so it cannot be ordered."],
    ["items.0.item_id", "Input should be greater than 0", "", "Part of the order could not be accepted. Please check it and try again."],
    ["surprise", "Extra inputs are not permitted", "", "Part of the order could not be accepted. Please check it and try again."],
  ])("%s: %s", (apiField, message, field, words) => {
    expect(orderFieldMessage({ field: apiField, message }, 7)).toEqual({ field, message: words });
  });

  it("never repeats the library's words", () => {
    const library = /Input should|String should|List should|Field required|Extra inputs/;
    for (const message of ["Input should be greater than or equal to 1", "String should have at most 500 characters", "Field required"]) {
      for (const field of ["items.0.quantity", "customer_email", "note", "x"]) {
        expect(orderFieldMessage({ field, message }, 5).message).not.toMatch(library);
      }
    }
  });
});

describe("orderFieldErrors", () => {
  it("groups by form field and drops repeats", () => {
    const grouped = orderFieldErrors(
      [
        { field: "items", message: "List should have at least 1 item after validation, not 0" },
        { field: "items.0.quantity", message: "Input should be greater than or equal to 1" },
        { field: "customer_email", message: "Must be a valid email address." },
        { field: "items.0.item_id", message: "Item 9 does not exist." },
      ],
      10,
    );
    expect(Object.fromEntries(grouped)).toEqual({
      quantity: ["Enter a quantity of at least 1."],
      email: ["Enter an email address in the form name@example.com."],
      "": ["This product is no longer in the catalog, so it cannot be ordered."],
    });
  });
});
